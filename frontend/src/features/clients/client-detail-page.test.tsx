import { screen, within } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { client } from "@/client/client.gen";
import type { ClientDetail } from "@/client/types.gen";
import "@/lib/api";
import { renderWithProviders } from "@/test/render";
import ClientDetailPage from "./client-detail-page";

const golden = {
  client_id: "gc-1", name: "Acme Pension", segment: "Other", region: "NA", country: "US", state: null, city: null,
  postal_code: null, address: null, aum_usd: null, annual_revenue_usd: null, employee_count: null, industry: null,
  website: null, lei: null, tax_id: null, parent_client_id: null, decision: "merged", version: 2, updated_at: null,
};
const source = (source_key: string, name: string, match: ClientDetail["source_records"][number]["match"] = null) => ({
  source_key, source_system: source_key.split(":")[0] ?? "", source_id: source_key.split(":")[1] ?? "", updated_at: null, name, match,
});
const merged = {
  decision: "merged", confidence: 0.934, candidate_client_id: "gc-9", field_scores: { name: 0.95, lei: 1, postal_code: 0 },
  reasons: ["matched source record salesforce:9", "same LEI 5493001KJTIIGC8Y1R19"], occurred_at: "2026-12-01T09:00:00Z",
};
const issue = (source_key: string, field: string, code: string, raw: string | null) => ({
  client_id: "gc-1", client_name: "Acme Pension", source_key, field, code, raw, message: `${field} refused`, occurred_at: "2026-12-01T09:30:00Z",
});
let detail: ClientDetail;

beforeEach(() => {
  detail = {
    golden,
    source_records: [source("hubspot:7", "ACME pension"), source("salesforce:3", "Acme Pension Fund", merged), source("csv:1", "Acme")],
    current_assignment: null,
    history: [],
    masked: ["tax_id"],
    field_issues: [
      issue("hubspot:7", "tax_id", "invalid_tax_id", null),
      issue("salesforce:3", "lei", "invalid_lei", "5493001KJTIIGC8Y1R19"),
      issue("salesforce:3", "segment", "unknown_segment", "Pension-ish"),
    ],
  };
  client.setConfig({
    baseUrl: "http://api.test",
    fetch: vi.fn(async (input: Request | string | URL) => {
      const url = input instanceof Request ? input.url : String(input);
      const body = url.includes("/api/clients/") ? detail : { items: [], total: 0, limit: 50, offset: 0 };
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    }) as typeof fetch,
  });
});
afterEach(() => client.setConfig({ baseUrl: "", fetch: globalThis.fetch }));

it("shows the client's quarantined values per source record, masked PII named as such", async () => {
  renderWithProviders(<ClientDetailPage />, { route: "/clients/gc-1" });
  const table = await screen.findByRole("table", { name: "Quarantined values" });
  const rows = within(table).getAllByRole("row").slice(1);
  expect(rows).toHaveLength(3);
  // One cell names each source record, spanning its issues.
  expect(within(rows[1] as HTMLElement).getByText("salesforce:3").closest("td")).toHaveAttribute("rowspan", "2");
  expect(within(rows[1] as HTMLElement).getByText("Acme Pension Fund")).toBeInTheDocument();
  expect(within(rows[2] as HTMLElement).getByText("Pension-ish")).toBeInTheDocument();
  expect(within(rows[0] as HTMLElement).getByText("masked for your role")).toBeInTheDocument();
  // The source records table says which records carry them.
  const sources = screen.getByRole("table", { name: "Source records" });
  expect(within(sources).getByText("2 quarantined")).toBeInTheDocument();
  expect(within(sources).getByText("1 quarantined")).toBeInTheDocument();
});

it("a client without quarantined values says so", async () => {
  detail.field_issues = [];
  renderWithProviders(<ClientDetailPage />, { route: "/clients/gc-1" });
  expect(await screen.findByText("No quarantined values")).toBeInTheDocument();
  expect(screen.queryByRole("table", { name: "Quarantined values" })).toBeNull();
});

it("shows why each source record was matched: decision, confidence, field scores, reasons", async () => {
  renderWithProviders(<ClientDetailPage />, { route: "/clients/gc-1" });
  const sources = await screen.findByRole("table", { name: "Source records" });
  const row = within(sources).getByText("Acme Pension Fund").closest("tr") as HTMLElement;
  expect(within(row).getByText("merged")).toBeInTheDocument();
  expect(within(row).getByText("93% confidence")).toBeInTheDocument();
  expect(within(row).getByRole("link", { name: "gc-9" })).toHaveAttribute("href", "/clients/gc-9");
  const scores = within(row).getByLabelText("Field scores");
  expect(within(scores).getByText("name +0.95")).toBeInTheDocument();
  expect(within(scores).getByText("lei +1")).toBeInTheDocument();
  expect(within(scores).getByText("postal_code 0")).toBeInTheDocument();
  const reasons = within(within(row).getByRole("list", { name: "Match reasons" })).getAllByRole("listitem");
  expect(reasons.map((r) => r.textContent)).toEqual(["matched source record salesforce:9", "same LEI 5493001KJTIIGC8Y1R19"]);
  // Records without recorded evidence say so instead of showing an empty cell.
  expect(within(sources).getAllByText("No match evidence recorded")).toHaveLength(2);
});

it("a record that founded its client shows its decision without a candidate", async () => {
  detail.source_records = [
    source("csv:1", "Acme", { decision: "new", confidence: null, candidate_client_id: null, field_scores: {}, reasons: [], occurred_at: "2026-12-01T09:00:00Z" }),
  ];
  renderWithProviders(<ClientDetailPage />, { route: "/clients/gc-1" });
  const sources = await screen.findByRole("table", { name: "Source records" });
  expect(within(sources).getByText("new")).toBeInTheDocument();
  expect(within(sources).getByText("Matched no existing client")).toBeInTheDocument();
  expect(within(sources).queryByText(/confidence/)).toBeNull();
  expect(within(sources).queryByRole("link")).toBeNull();
});
