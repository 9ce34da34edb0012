/**
 * Validation of Kubernetes objects against the Kubernetes OpenAPI schemas, through the
 * compiled validators of the `kubernetes-models` package (one class per apiVersion/kind,
 * `validate()` throws with the failing path). Custom resources of the Prometheus Operator
 * (ServiceMonitor, PrometheusRule) are not in it: {@link validateObject} says so and the
 * chart spec checks those structurally.
 */
import type { K8sObject } from './helm-lite';

/** Kinds whose schema is not in kubernetes-models (CRDs). */
export const CUSTOM_KINDS: ReadonlySet<string> = new Set(['monitoring.coreos.com/v1/ServiceMonitor', 'monitoring.coreos.com/v1/PrometheusRule']);

/** The module of kubernetes-models for an apiVersion and kind (core `v1` has no group). */
export function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/**
 * Validates `obj`; returns undefined when valid, 'custom' for a CRD kind, or the error
 * message (with the object's kind/name).
 */
export function validateObject(obj: K8sObject): string | undefined | 'custom' {
  if (CUSTOM_KINDS.has(`${obj.apiVersion}/${obj.kind}`)) return 'custom';
  let Model: new (data: unknown) => { validate(): void };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(modelModule(obj.apiVersion, obj.kind)) as Record<string, new (data: unknown) => { validate(): void }>;
    Model = mod[obj.kind]!;
  } catch {
    return `${obj.kind}/${obj.metadata?.name}: no schema for ${obj.apiVersion} ${obj.kind}`;
  }
  try {
    new Model(obj).validate();
    return undefined;
  } catch (e) {
    return `${obj.kind}/${obj.metadata?.name}: ${e instanceof Error ? e.message : String(e)}`;
  }
}
