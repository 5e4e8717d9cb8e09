import { keepPreviousData, useQueries, useQuery } from "@tanstack/react-query";
import { Search, X } from "lucide-react";
import { useMemo, useState } from "react";
import { clientHierarchyApiClientsHierarchyGet, getClientApiClientsClientIdGet } from "@/client/sdk.gen";
import type { HierarchyNode } from "@/client/types.gen";
import { FilterSelect } from "@/components/filter-select";
import { EmptyState, ErrorState, LoadingState, PageHeader, QueryView } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { unwrap } from "@/lib/api";
import { formatCount } from "@/lib/format";
import { REGIONS, SEGMENTS } from "@/lib/vocabulary";
import { HierarchyTree, type TreeOptions } from "./hierarchy-tree";
import { revealIds, searchRoots } from "./tree-logic";

const ROOTS_PAGE = 100;

export default function HierarchyPage() {
  const [region, setRegion] = useState<string>();
  const [segment, setSegment] = useState<string>();
  const [text, setText] = useState("");
  const [term, setTerm] = useState<string>();
  const [limit, setLimit] = useState(ROOTS_PAGE);
  const filterKey = `${region ?? ""}|${segment ?? ""}`;

  const loadChildren = useMemo(
    () => async (parentId: string) =>
      (
        await unwrap(
          clientHierarchyApiClientsHierarchyGet({ query: { parent_id: parentId, region, segment, limit: 500 } }),
        )
      ).items,
    [region, segment],
  );

  const roots = useQuery({
    queryKey: ["hierarchy-roots", filterKey, limit],
    queryFn: () => unwrap(clientHierarchyApiClientsHierarchyGet({ query: { region, segment, limit } })),
    enabled: !term,
    placeholderData: keepPreviousData,
  });
  const matches = useQuery({
    queryKey: ["hierarchy-search", filterKey, term],
    queryFn: () => unwrap(clientHierarchyApiClientsHierarchyGet({ query: { q: term, region, segment, limit: 100 } })),
    enabled: Boolean(term),
  });

  // A match's top ancestor is fetched by id: it may sit on any page of the roots.
  const rootIds = matches.data ? searchRoots(matches.data.items) : [];
  const ancestorIds = rootIds.filter((id) => !matches.data?.items.some((m) => m.client_id === id));
  const ancestors = useQueries({
    queries: ancestorIds.map((id) => ({
      queryKey: ["client", id],
      queryFn: () => unwrap(getClientApiClientsClientIdGet({ path: { client_id: id } })),
    })),
  });
  const searchTree: HierarchyNode[] = rootIds.flatMap((id): HierarchyNode[] => {
    const direct = matches.data?.items.find((m) => m.client_id === id);
    if (direct) return [direct];
    const detail = ancestors.find((a) => a.data?.golden.client_id === id)?.data;
    if (!detail) return [];
    const g = detail.golden;
    return [
      {
        client_id: g.client_id,
        name: g.name,
        region: g.region,
        segment: g.segment,
        tier: detail.current_assignment?.tier ?? null,
        territory_id: detail.current_assignment?.territory_id ?? null,
        advisor: detail.current_assignment?.advisor ?? null,
        parent_client_id: g.parent_client_id,
        child_count: 1,
        path: [],
      },
    ];
  });
  const searchOptions: TreeOptions = {
    loadChildren,
    reveal: matches.data ? revealIds(matches.data.items) : new Set(),
    term,
    filterKey,
  };
  const browseOptions: TreeOptions = { loadChildren, reveal: new Set(), filterKey };

  return (
    <div>
      <PageHeader
        title="Client hierarchy"
        description="Organisations, their subsidiaries and advisors. Expand a row to load the next level."
      />
      <div className="mb-4 flex flex-wrap items-center gap-2">
        <form
          role="search"
          className="relative"
          onSubmit={(e) => {
            e.preventDefault();
            setTerm(text.trim() || undefined);
          }}
        >
          <Search className="absolute top-2.5 left-2.5 size-4 text-muted-foreground" aria-hidden />
          <Input type="search" aria-label="Search clients by name" placeholder="Search by name, press Enter" className="w-72 pl-8" value={text} onChange={(e) => setText(e.target.value)} />
        </form>
        {term ? (
          <Button variant="ghost" size="sm" onClick={() => { setTerm(undefined); setText(""); }}>
            <X /> Clear search
          </Button>
        ) : null}
        <FilterSelect label="Region" value={region} options={REGIONS} onChange={setRegion} />
        <FilterSelect label="Segment" value={segment} options={SEGMENTS} onChange={setSegment} />
      </div>
      <Card>
        <CardContent className="p-3">
          {term ? (
            matches.isPending || (ancestorIds.length > 0 && ancestors.some((a) => a.isPending)) ? (
              <LoadingState rows={6} label="Searching" />
            ) : matches.error ? (
              <ErrorState error={matches.error} onRetry={() => void matches.refetch()} />
            ) : searchTree.length === 0 ? (
              <EmptyState title={`No client named like “${term}”`}>Try part of the name, or clear a filter.</EmptyState>
            ) : (
              <>
                <p className="mb-2 px-2 text-sm text-muted-foreground" aria-live="polite">
                  {formatCount(matches.data?.total)} matches for “{term}”, shown in place in the tree
                </p>
                <HierarchyTree key={`s-${term}-${filterKey}`} roots={searchTree} options={searchOptions} label="Search results in the client hierarchy" />
              </>
            )
          ) : (
            <QueryView query={roots} rows={8} isEmpty={(r) => r.items.length === 0} empty={<EmptyState title="No clients match these filters" />}>
              {(r) => (
                <>
                  <HierarchyTree key={`b-${filterKey}`} roots={r.items} options={browseOptions} label="Client hierarchy" />
                  <div className="mt-3 flex items-center justify-between px-2 text-sm text-muted-foreground">
                    <span>
                      {formatCount(r.items.length)} of {formatCount(r.total)} top-level organisations
                    </span>
                    {r.items.length < r.total ? (
                      <Button variant="outline" size="sm" onClick={() => setLimit((l) => l + ROOTS_PAGE)}>
                        Show more
                      </Button>
                    ) : null}
                  </div>
                </>
              )}
            </QueryView>
          )}
        </CardContent>
      </Card>
    </div>
  );
}
