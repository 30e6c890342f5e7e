"""Users and their bearer tokens; only a token's sha256 is stored."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.service.db import TokenRow, UserRow, utcnow
from submissions_schema import Role, TokenCreated, TokenInfo

ROLE_RANK = {Role.student: 0, Role.ta: 1, Role.admin: 2}

# One rule for every way a user is made (the API, `dlgrader admin token create --local`):
# letters, digits and _ . @ -, never first a - or @ (nor = or +, which it excludes anyway).
# A spreadsheet reads such a first character as a formula, so the Canvas CSV would have to
# quote the name, and Canvas would then match no student by it.
USER_NAME = r"^[A-Za-z0-9_.][A-Za-z0-9_.@-]{0,199}$"


class BadUserName(ValueError):
    """A user name outside USER_NAME."""


def check_user_name(name: str) -> str:
    if not re.fullmatch(USER_NAME, name):
        raise BadUserName(
            f"user name {name!r}: up to 200 letters, digits and _ . @ -, not starting with - or @"
        )
    return name


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: str, role: Role) -> TokenCreated:
    """A new token for `user`, creating the user with `role` or changing their role."""
    check_user_name(user)
    row = session.scalar(select(UserRow).where(UserRow.name == user))
    if row is None:
        row = UserRow(name=user, role=role.value)
        session.add(row)
        session.flush()
    else:
        row.role = role.value
    token = "dlg_" + secrets.token_urlsafe(32)
    session.add(TokenRow(user_id=row.id, token_hash=hash_token(token)))
    return TokenCreated(user=user, role=role, token=token)


def user_for_token(session: Session, token: str) -> UserRow | None:
    row = session.scalar(
        select(TokenRow).where(
            TokenRow.token_hash == hash_token(token), TokenRow.revoked_at.is_(None)
        )
    )
    return row.user if row is not None else None


def has_role(user: UserRow, role: Role) -> bool:
    return ROLE_RANK[Role(user.role)] >= ROLE_RANK[role]


def _info(row: TokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user=row.user.name,
        role=Role(row.user.role),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def list_tokens(session: Session, user: str | None = None) -> list[TokenInfo]:
    query = select(TokenRow).join(TokenRow.user).order_by(TokenRow.id)
    if user is not None:
        query = query.where(UserRow.name == user)
    return [_info(row) for row in session.scalars(query)]


def revoke_token(session: Session, token_id: int) -> TokenInfo | None:
    """Revoke one token (once: a second revoke keeps the first time); None if unknown."""
    row = session.get(TokenRow, token_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return _info(row)
