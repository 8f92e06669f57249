"""normalise names, reading rows

Revision ID: e1
Revises: d1
Create Date: 2026-11-06 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
revision = "e1"
down_revision = "d1"
branch_labels = None
depends_on = None
def upgrade():
    bind = op.get_bind()
    for (uid, name) in bind.execute(sa.text("SELECT id, name FROM users")).fetchall():
        bind.execute(sa.text("UPDATE users SET name = :n WHERE id = :i"), {"n": name.strip(), "i": uid})
def downgrade():
    pass
