import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { expect, it, vi } from "vitest";
import type { HierarchyNode } from "@/client/types.gen";
import { renderWithProviders } from "@/test/render";
import { HierarchyTree } from "./hierarchy-tree";
import { highlight, revealIds, searchRoots } from "./tree-logic";

const node = (id: string, name: string, child_count = 0, path: string[] = []): HierarchyNode => ({
  client_id: id,
  name,
  region: "EMEA",
  segment: "Bank",
  tier: null,
  territory_id: "EMEA-UK",
  advisor: { advisor_id: `adv_${id}`, email: null, name: `Advisor of ${name}` },
  parent_client_id: null,
  child_count,
  path,
});

it("loads a level only when it is expanded, and shows the advisor under the organisation", async () => {
  const load = vi.fn(async (parent: string) =>
    parent === "org" ? [node("sub", "Acme Europe", 1)] : [node("leaf", "Acme Europe Leasing")],
  );
  renderWithProviders(
    <HierarchyTree label="Tree" roots={[node("org", "Acme Holdings", 1)]} options={{ loadChildren: load, reveal: new Set(), filterKey: "" }} />,
  );
  expect(load).not.toHaveBeenCalled();
  const expand = screen.getByRole("button", { name: "Expand Acme Holdings" });
  await userEvent.click(expand);
  expect(await screen.findByText("Acme Europe")).toBeInTheDocument();
  expect(load).toHaveBeenCalledWith("org");
  expect(screen.getByText("Advisor of Acme Holdings")).toBeInTheDocument();
  expect(screen.getAllByRole("treeitem")[0]).toHaveAttribute("aria-expanded", "true");
  expect(screen.queryByText("Acme Europe Leasing")).toBeNull();
  await userEvent.click(screen.getByRole("button", { name: "Collapse Acme Holdings" }));
  expect(screen.queryByText("Acme Europe")).toBeNull();
  expect(load).toHaveBeenCalledTimes(1);
});

it("a search opens every ancestor of a match and highlights the term", async () => {
  const matches = [node("sub", "Acme Europe", 0, ["org"])];
  expect(searchRoots(matches)).toEqual(["org"]);
  const load = vi.fn(async () => matches);
  renderWithProviders(
    <HierarchyTree label="Tree" roots={[node("org", "Holding Group", 1)]} options={{ loadChildren: load, reveal: revealIds(matches), term: "europe", filterKey: "" }} />,
  );
  const match = await screen.findByText("Europe", { selector: "mark" });
  expect(match.closest('[role="treeitem"]')).toHaveAttribute("data-match", "true");
  expect(within(screen.getByRole("tree")).getAllByRole("treeitem")[0]).toHaveAttribute("aria-expanded", "true");
});

it("cuts text around every occurrence, whatever the case", () => {
  expect(highlight("Bank of Banks", "bank")).toEqual([
    { text: "Bank", match: true },
    { text: " of ", match: false },
    { text: "Bank", match: true },
    { text: "s", match: false },
  ]);
  expect(highlight("Acme", undefined)).toEqual([{ text: "Acme", match: false }]);
});
