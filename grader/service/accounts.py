"""Users and their bearer tokens; only a token's sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.service.db import TokenRow, UserRow
from submissions_schema import Role, TokenCreated

ROLE_RANK = {Role.student: 0, Role.ta: 1, Role.admin: 2}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: str, role: Role) -> TokenCreated:
    """A new token for `user`, creating the user with `role` or changing their role."""
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
