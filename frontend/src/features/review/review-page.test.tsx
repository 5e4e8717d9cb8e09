import { screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { client } from "@/client/client.gen";
import "@/lib/api";
import { AuthContext, type AuthState } from "@/lib/auth";
import { capabilities, type Role } from "@/lib/permissions";
import { renderWithProviders } from "@/test/render";
import ReviewPage from "./review-page";

const conflict = {
  conflict_id: "multi_territory:c1",
  kind: "multi_territory",
  severity: "warning",
  action: "flag",
  client_id: "c1",
  territory_ids: ["A", "B"],
  advisor: null,
  ruleset_version: "1",
  detail: "two territories match",
  resolved: false,
  first_seen_at: "2026-12-01T00:00:00Z",
  last_seen_at: "2026-12-01T00:00:00Z",
};
const review = {
  event_id: "e1",
  client_id: "c2",
  source_key: "hubspot:1",
  client_name: "Meridian AB",
  candidate_client_ids: ["c3"],
  best_confidence: 0.6,
  evidence: [{ candidate_client_id: "c3", confidence: 0.6, field_scores: { name: 9 }, reasons: ["name similarity"] }],
  status: "open",
  occurred_at: "2026-12-01T00:00:00Z",
};

beforeEach(() => {
  // The generated client is configured once (lib/api.ts); the test gives it a fake server.
  client.setConfig({
    baseUrl: "http://api.test",
    fetch: vi.fn(async (input: Request | string | URL) => {
      const url = input instanceof Request ? input.url : String(input);
      const body = url.includes("/api/conflicts") ? { items: [conflict], total: 1, limit: 200, offset: 0 } : { items: [review], total: 1, limit: 100, offset: 0 };
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    }) as typeof fetch,
  });
});
afterEach(() => client.setConfig({ baseUrl: "", fetch: globalThis.fetch }));

function renderAs(role: Role, route: string) {
  const auth: AuthState = {
    token: "t",
    me: { subject: "x", roles: [role], regions: role === "SALES_LEADERSHIP" ? ["EMEA"] : null, sees_emails: false, sees_tax_id: false },
    can: capabilities([role]),
    loading: false,
    signIn: () => {},
    signOut: () => {},
  };
  return renderWithProviders(
    <AuthContext.Provider value={auth}>
      <ReviewPage />
    </AuthContext.Provider>,
    { route },
  );
}

it("a CRM analyst may acknowledge conflicts and decide duplicates", async () => {
  renderAs("CRM_ANALYST", "/review");
  expect(await screen.findByText("two territories match")).toBeInTheDocument();
  expect(screen.getByRole("button", { name: /Acknowledge/ })).toBeInTheDocument();
  expect(screen.getByRole("tab", { name: "Dedupe review" })).toBeInTheDocument();
});

it("a data engineer reads conflicts without the acknowledge control, but merges duplicates", async () => {
  renderAs("DATA_ENGINEER", "/review?tab=duplicates");
  expect(await screen.findByText("Meridian AB")).toBeInTheDocument();
  expect(screen.getByRole("button", { name: /Merge/ })).toBeInTheDocument();
  expect(screen.getByRole("button", { name: /Keep apart/ })).toBeInTheDocument();
});

it("sales leadership sees conflicts only: no acknowledge, no review queue", async () => {
  renderAs("SALES_LEADERSHIP", "/review?tab=duplicates");
  expect(await screen.findByText("two territories match")).toBeInTheDocument();
  expect(screen.queryByRole("button", { name: /Acknowledge/ })).toBeNull();
  expect(screen.queryByRole("tab", { name: "Dedupe review" })).toBeNull();
  expect(screen.queryByText("Meridian AB")).toBeNull();
});
