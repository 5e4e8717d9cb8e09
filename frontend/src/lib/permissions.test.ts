import { expect, it } from "vitest";
import { capabilities } from "./permissions";

// The same table as the API's deps.py: Steward, RulesEditor, Operator, Admin.
it.each([
  ["TERRITORY_ADMIN", { steward: true, editRules: true, decideDuplicates: true, reassign: true, publish: true }],
  ["DATA_ENGINEER", { steward: true, editRules: false, decideDuplicates: true, reassign: true, publish: false }],
  ["CRM_ANALYST", { steward: true, editRules: true, decideDuplicates: true, reassign: false, publish: false }],
  ["SALES_LEADERSHIP", { steward: false, editRules: false, decideDuplicates: false, reassign: false, publish: false }],
] as const)("%s may use exactly its controls", (role, expected) => {
  expect(capabilities([role])).toEqual(expected);
});

it("a token with several roles gets the widest", () => {
  expect(capabilities(["SALES_LEADERSHIP", "CRM_ANALYST"]).editRules).toBe(true);
  expect(capabilities([]).steward).toBe(false);
});
