"""Complaints, the webhook outbox (endpoints, events, deliveries, attempts), and lookup keys.

Support types order numbers, customer references and tracking numbers with spaces, in any
case, sometimes after a '#': `number_key`, `ref_key` and `tracking_key` hold them normalised
(qc.lookup.lookup_key) so that a lookup is an indexed equality. Existing rows are filled here.
A parcel may carry the SSCC of its shipping label. An escaped defect points at its complaint.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook_endpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoint'))
    )
    op.create_table('webhook_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_webhook_event_event_id'))
    )
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_event_type'), ['type'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], name=op.f('fk_webhook_delivery_endpoint_id_webhook_endpoint')),
    sa.ForeignKeyConstraint(['event_id'], ['webhook_event.id'], name=op.f('fk_webhook_delivery_event_id_webhook_event')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
    sa.UniqueConstraint('event_id', 'endpoint_id', name=op.f('uq_webhook_delivery_event_id_endpoint_id'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_endpoint_id'), ['endpoint_id'], unique=False)

    op.create_table('webhook_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_delivery.id'], name=op.f('fk_webhook_attempt_delivery_id_webhook_delivery')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempt'))
    )
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_attempt_delivery_id'), ['delivery_id'], unique=False)

    op.create_table('complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('customer_ref', sa.String(length=128), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('qty', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('resolution_note', sa.String(length=2000), nullable=True),
    sa.Column('override_id', sa.Integer(), nullable=True),
    sa.Column('repeat_claimant', sa.Boolean(), nullable=False),
    sa.Column('evidence_available', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], name=op.f('fk_complaint_created_by_app_user')),
    sa.ForeignKeyConstraint(['override_id'], ['override.id'], name=op.f('fk_complaint_override_id_override')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_complaint_parcel_id_parcel')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_complaint_product_id_product')),
    sa.ForeignKeyConstraint(['resolved_by'], ['app_user.id'], name=op.f('fk_complaint_resolved_by_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint'))
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_customer_ref'), ['customer_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_parcel_id'), ['parcel_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_status'), ['status'], unique=False)

    with op.batch_alter_table('customer_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('number_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ref_key', sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f('ix_customer_order_number_key'), ['number_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_order_ref_key'), ['ref_key'], unique=False)

    with op.batch_alter_table('defect', schema=None) as batch_op:
        batch_op.add_column(sa.Column('complaint_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_defect_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_defect_complaint_id_complaint'), 'complaint', ['complaint_id'], ['id'])

    with op.batch_alter_table('parcel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tracking_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sscc', sa.String(length=18), nullable=True))
        batch_op.create_index(batch_op.f('ix_parcel_sscc'), ['sscc'], unique=False)
        batch_op.create_index(batch_op.f('ix_parcel_tracking_key'), ['tracking_key'], unique=False)

    op.execute("UPDATE customer_order SET number_key = upper(ltrim(replace(number, ' ', ''), '#'))")
    op.execute(
        "UPDATE customer_order SET ref_key = upper(ltrim(replace(customer_ref, ' ', ''), '#')) "
        "WHERE customer_ref IS NOT NULL"
    )
    op.execute(
        "UPDATE parcel SET tracking_key = upper(tracking_number) WHERE tracking_number IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table('parcel', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parcel_tracking_key'))
        batch_op.drop_index(batch_op.f('ix_parcel_sscc'))
        batch_op.drop_column('sscc')
        batch_op.drop_column('tracking_key')

    with op.batch_alter_table('defect', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_defect_complaint_id_complaint'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_defect_complaint_id'))
        batch_op.drop_column('complaint_id')

    with op.batch_alter_table('customer_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_order_ref_key'))
        batch_op.drop_index(batch_op.f('ix_customer_order_number_key'))
        batch_op.drop_column('ref_key')
        batch_op.drop_column('number_key')

    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_status'))
        batch_op.drop_index(batch_op.f('ix_complaint_parcel_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_customer_ref'))
        batch_op.drop_index(batch_op.f('ix_complaint_created_at'))

    op.drop_table('complaint')
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_attempt_delivery_id'))

    op.drop_table('webhook_attempt')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_endpoint_id'))
        batch_op.drop_index('ix_webhook_delivery_due')

    op.drop_table('webhook_delivery')
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_event_type'))

    op.drop_table('webhook_event')
    op.drop_table('webhook_endpoint')
