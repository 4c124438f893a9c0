"""Many tenants, many machines: sync jobs on procrastinate with a PostgreSQL journal.

PostgreSQL holds the jobs (procrastinate), the shared journal and the tenant leases; each job
carries a tenant's eid and where its schedule lives, never a secret (workers read secrets from
their environment or a tenants file). ``sync_tenant`` is the engine-agnostic core: any job
engine can call it. Needs the ``workers`` extra.
"""

from .core import ClientFactory, LeaseOptions, default_client_factory, sync_tenant
from .tenants import Tenant, TenantError, Tenants, load_tenants

__all__ = [
    "ClientFactory",
    "LeaseOptions",
    "Tenant",
    "TenantError",
    "Tenants",
    "default_client_factory",
    "load_tenants",
    "sync_tenant",
]
