import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { ColumnDef } from "@tanstack/react-table";
import { MemoryRouter } from "react-router";
import { expect, it, vi } from "vitest";
import type { ClientSummary } from "@/client/types.gen";
import { clientColumns } from "@/features/clients/client-columns";
import { DataTable, fromSortParam, toSortParam } from "./data-table";

const client = (id: string, name: string, aum: number | null): ClientSummary => ({
  client_id: id,
  name,
  region: "EMEA",
  segment: "Bank",
  country: "GB",
  tier: "tier-1",
  territory_id: "EMEA-UK",
  advisor: { advisor_id: "adv_1", email: null, name: "Liam Walsh" },
  parent_client_id: null,
  aum_usd: aum,
  annual_revenue_usd: null,
  updated_at: null,
});

it("maps the API's sort parameter to the table's state and back", () => {
  expect(fromSortParam("-aum_usd")).toEqual([{ id: "aum_usd", desc: true }]);
  expect(toSortParam([{ id: "name", desc: false }])).toBe("name");
  expect(toSortParam([])).toBeUndefined();
});

it("renders the rows it is given, in that order, with links to each client", () => {
  render(
    <MemoryRouter>
      <DataTable caption="Clients" columns={clientColumns} data={[client("b", "Beta Bank", 2e9), client("a", "Alpha Bank", null)]} getRowId={(c) => c.client_id} />
    </MemoryRouter>,
  );
  const rows = within(screen.getByRole("table", { name: "Clients" })).getAllByRole("row").slice(1);
  expect(rows.map((r) => within(r).getAllByRole("cell")[0]?.textContent)).toEqual(["Beta Bank", "Alpha Bank"]);
  expect(within(rows[0]!).getByRole("link", { name: "Beta Bank" })).toHaveAttribute("href", "/clients/b");
  expect(rows[0]).toHaveTextContent("$2B");
  expect(rows[1]).toHaveTextContent("—");
});

it("asks the server for the next order when a sortable header is clicked; others do not sort", async () => {
  const onSort = vi.fn();
  const { rerender } = render(
    <MemoryRouter>
      <DataTable caption="Clients" columns={clientColumns} data={[client("a", "Alpha", 1)]} getRowId={(c) => c.client_id} sorting={fromSortParam("name")} onSortingChange={onSort} />
    </MemoryRouter>,
  );
  expect(screen.getByRole("columnheader", { name: /Client/ })).toHaveAttribute("aria-sort", "ascending");
  await userEvent.click(screen.getByRole("button", { name: /AUM/ }));
  expect(toSortParam(onSort.mock.calls.at(-1)![0])).toMatch(/^-?aum_usd$/);
  await userEvent.click(screen.getByRole("button", { name: /Client/ }));
  expect(toSortParam(onSort.mock.calls.at(-1)![0])).toBe("-name");
  expect(screen.queryByRole("button", { name: /Segment/ })).toBeNull();
  rerender(
    <MemoryRouter>
      <DataTable caption="Clients" columns={clientColumns as ColumnDef<ClientSummary, unknown>[]} data={[]} getRowId={(c) => c.client_id} />
    </MemoryRouter>,
  );
  expect(screen.queryByRole("button", { name: /AUM/ })).toBeNull(); // no handler: no sort buttons
});
