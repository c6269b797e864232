// The limits one tenant works under when it creates tasks (SPOOL_TENANT_* in config.ts).
export interface TenantQuotas {
  /** Most pending tasks one tenant may have; past it CreateTask answers RESOURCE_EXHAUSTED. */
  maxPending: number;
  /** Tasks one tenant may create per second on one replica (a token bucket); 0: no limit. */
  createRate: number;
  /** The bucket's size: tasks a tenant may create at once above the rate. */
  createBurst: number;
}
