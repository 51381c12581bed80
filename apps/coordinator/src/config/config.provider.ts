/** Injection token of the validated CoordinatorConfig. */
export const CONFIG = Symbol('fedkd.coordinator.config');
