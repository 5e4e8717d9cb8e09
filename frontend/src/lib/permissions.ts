// Which controls a role may use: the same table as the API's route dependencies
// (services/api/src/territory/api/deps.py). Hiding a control is a courtesy; the API
// refuses the call anyway.
import type { Me } from "@/client/types.gen";

export type Role = Me["roles"][number];

const ADMIN: Role = "TERRITORY_ADMIN";
const DATA_ENGINEER: Role = "DATA_ENGINEER";
const CRM_ANALYST: Role = "CRM_ANALYST";

export interface Capabilities {
  /** Dedupe review queue, ruleset versions, data quality (Steward). */
  steward: boolean;
  /** Preview rulesets, overrides, acknowledge conflicts (RulesEditor). */
  editRules: boolean;
  /** Merge / split duplicates (Steward). */
  decideDuplicates: boolean;
  /** Trigger a reassignment (Operator). */
  reassign: boolean;
  /** Publish a ruleset (Admin). */
  publish: boolean;
}

export function capabilities(roles: readonly Role[]): Capabilities {
  const has = (...allowed: Role[]) => roles.some((r) => allowed.includes(r));
  return {
    steward: has(ADMIN, DATA_ENGINEER, CRM_ANALYST),
    editRules: has(ADMIN, CRM_ANALYST),
    decideDuplicates: has(ADMIN, DATA_ENGINEER, CRM_ANALYST),
    reassign: has(ADMIN, DATA_ENGINEER),
    publish: has(ADMIN),
  };
}

export const ROLE_LABELS: Record<Role, string> = {
  TERRITORY_ADMIN: "Territory admin",
  DATA_ENGINEER: "Data engineer",
  CRM_ANALYST: "CRM analyst",
  SALES_LEADERSHIP: "Sales leadership",
};
