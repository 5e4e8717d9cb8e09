import { fireEvent, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { client } from "@/client/client.gen";
import "@/lib/api";
import { AuthContext, type AuthState } from "@/lib/auth";
import { capabilities } from "@/lib/permissions";
import { renderWithProviders } from "@/test/render";
import DataQualityPage from "./data-quality-page";

const SUMMARY = {
  issues: 2,
  clients_with_issues: 2,
  by_field: { website: 1, tax_id: 1 },
  by_field_and_code: [
    { field: "website", code: "invalid_website", issues: 1, clients: 1 },
    { field: "tax_id", code: "invalid_tax_id", issues: 1, clients: 1 },
  ],
  masked: ["tax_id", "emails"],
};
const ISSUES = [
  { client_id: "gc-1", client_name: "Acme Pension", source_key: "hubspot:7", field: "website", code: "invalid_website", raw: "<img src=x onerror=alert(1)>", message: "not a URL", occurred_at: "2026-12-01T09:30:00Z" },
  { client_id: "gc-2", client_name: "Borealis Fund", source_key: "salesforce:9", field: "tax_id", code: "invalid_tax_id", raw: null, message: "wrong check digit", occurred_at: "2026-12-01T10:00:00Z" },
];
let requested: string[] = [];
let summary = structuredClone(SUMMARY);
let issues = structuredClone(ISSUES);

function json(body: unknown) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
}

beforeEach(() => {
  requested = [];
  summary = structuredClone(SUMMARY);
  issues = structuredClone(ISSUES);
  client.setConfig({
    baseUrl: "http://api.test",
    fetch: vi.fn(async (input: Request | string | URL) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      requested.push(url.pathname + url.search);
      if (url.pathname === "/api/data-quality") return json(summary);
      if (url.pathname === "/api/data-quality/issues") {
        const field = url.searchParams.get("field");
        const items = issues.filter((i) => !field || i.field === field);
        return json({ items, total: items.length, limit: 50, offset: 0 });
      }
      if (url.pathname === "/api/data-quality/rejections/summary") return json({ total: 0, by_reason: [] });
      return json({ items: [], total: 0, limit: 100, offset: 0 });
    }) as typeof fetch,
  });
});
afterEach(() => client.setConfig({ baseUrl: "", fetch: globalThis.fetch }));

function renderPage() {
  const auth: AuthState = {
    token: "t",
    me: { subject: "x", roles: ["CRM_ANALYST"], regions: null, sees_emails: true, sees_tax_id: false },
    can: capabilities(["CRM_ANALYST"]),
    loading: false,
    signIn: () => {},
    signOut: () => {},
  };
  return renderWithProviders(
    <AuthContext.Provider value={auth}>
      <DataQualityPage />
    </AuthContext.Provider>,
    { route: "/data-quality" },
  );
}

it("lists quarantined values with a link to the client, the raw value as text and masked PII named", async () => {
  const { container } = renderPage();
  const table = await screen.findByRole("table", { name: "Quarantined field values" });
  expect(within(table).getByRole("link", { name: "Acme Pension" })).toHaveAttribute("href", "/clients/gc-1");
  expect(within(table).getByText("hubspot:7")).toBeInTheDocument();
  // The value an upstream CRM sent is text, never markup.
  expect(within(table).getByText("<img src=x onerror=alert(1)>")).toBeInTheDocument();
  expect(container.querySelector("img")).toBeNull();
  expect(within(table).getByText("masked for your role")).toBeInTheDocument();
  expect(within(table).getByText("1 Dec 2026, 09:30 UTC")).toBeInTheDocument();
  expect(await screen.findByRole("list", { name: "Quarantined values by code" })).toHaveTextContent("invalid_tax_id");
});

it("choosing a field lists only its values", async () => {
  renderPage();
  const byField = await screen.findByRole("list", { name: "Quarantined values by field" });
  fireEvent.click(within(byField).getByRole("button", { name: /website/ }));
  expect(await screen.findByText("field website · every code")).toBeInTheDocument();
  await screen.findByRole("table", { name: "Quarantined field values" });
  expect(screen.queryByText("Borealis Fund")).toBeNull();
  expect(requested).toContain("/api/data-quality/issues?field=website&limit=50&offset=0");
});

it("says so when nothing is quarantined", async () => {
  issues = [];
  summary = { ...SUMMARY, issues: 0, clients_with_issues: 0, by_field: {} as typeof SUMMARY.by_field, by_field_and_code: [] };
  renderPage();
  expect(await screen.findByText("No quarantined values")).toBeInTheDocument();
  expect(screen.queryByRole("table", { name: "Quarantined field values" })).toBeNull();
});
