// Values the contract names (territory.shared.events / geo): the filters offer these.
export const REGIONS = ["NA", "EMEA", "APAC", "LATAM"] as const;
export const SEGMENTS = [
  "Pension",
  "Endowment",
  "Foundation",
  "Insurance",
  "Bank",
  "Asset Manager",
  "Corporate",
  "Family Office",
  "Sovereign",
] as const;

/** Distinct non-empty values, sorted: the options of a filter built from loaded rows. */
export function distinct(values: readonly (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => Boolean(v)))].sort();
}
