"""One router per resource: health, submissions, projects, challenges, admin, pages."""
