"""Photos of parcels (kept by content hash, with quality and codes seen) and evidence holds.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:16:19.758697
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('evidence_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_evidence_hold_parcel_id_parcel')),
    sa.ForeignKeyConstraint(['released_by'], ['app_user.id'], name=op.f('fk_evidence_hold_released_by_app_user')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_evidence_hold_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_hold'))
    )
    op.create_index(op.f('ix_evidence_hold_parcel_id'), 'evidence_hold', ['parcel_id'], unique=False)

    op.create_table('photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('upload_sha256', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('thumb_sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('sharpness', sa.Float(), nullable=False),
    sa.Column('brightness', sa.Float(), nullable=False),
    sa.Column('codes', sa.JSON(), nullable=False),
    sa.Column('foreign_skus', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_photo_parcel_id_parcel')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_photo_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photo')),
    sa.UniqueConstraint('parcel_id', 'upload_sha256', name=op.f('uq_photo_parcel_id_upload_sha256'))
    )
    op.create_index(op.f('ix_photo_created_at'), 'photo', ['created_at'], unique=False)
    op.create_index(op.f('ix_photo_sha256'), 'photo', ['sha256'], unique=False)
    op.create_index(op.f('ix_photo_thumb_sha256'), 'photo', ['thumb_sha256'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_photo_thumb_sha256'), table_name='photo')
    op.drop_index(op.f('ix_photo_sha256'), table_name='photo')
    op.drop_index(op.f('ix_photo_created_at'), table_name='photo')

    op.drop_table('photo')
    op.drop_index(op.f('ix_evidence_hold_parcel_id'), table_name='evidence_hold')

    op.drop_table('evidence_hold')
