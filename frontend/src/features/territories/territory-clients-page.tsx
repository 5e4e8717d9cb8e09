import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { ArrowLeft, ChevronLeft, ChevronRight, Search } from "lucide-react";
import { useState } from "react";
import { Link, useParams } from "react-router";
import {
  getTerritoryApiTerritoriesTerritoryIdGet,
  territoryClientsApiTerritoriesTerritoryIdClientsGet,
} from "@/client/sdk.gen";
import { DataTable, fromSortParam, toSortParam } from "@/components/data-table";
import { EmptyState, PageHeader, QueryView } from "@/components/states";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { Card, CardContent } from "@/components/ui/card";
import { Input } from "@/components/ui/input";
import { unwrap } from "@/lib/api";
import { formatCount } from "@/lib/format";
import { clientColumns } from "@/features/clients/client-columns";

const PAGE_SIZE = 50;

/**
 * A territory's clients, sorted and searched by the API and paged by cursor: "next" sends
 * the last page's cursor, "previous" pops the stack of cursors already seen, so page 2,000
 * of 100,000 clients costs what page 1 does.
 */
export default function TerritoryClientsPage() {
  const { territoryId = "" } = useParams();
  const [sort, setSort] = useState("name");
  const [q, setQ] = useState("");
  const [search, setSearch] = useState<string | undefined>();
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);

  const detail = useQuery({
    queryKey: ["territory", territoryId],
    queryFn: () => unwrap(getTerritoryApiTerritoriesTerritoryIdGet({ path: { territory_id: territoryId } })),
  });
  const page = useQuery({
    queryKey: ["territory-clients", territoryId, sort, search, cursor],
    queryFn: () =>
      unwrap(
        territoryClientsApiTerritoriesTerritoryIdClientsGet({
          path: { territory_id: territoryId },
          query: { sort, q: search, cursor, limit: PAGE_SIZE },
        }),
      ),
    placeholderData: keepPreviousData,
  });
  const reset = () => setCursors([]);

  return (
    <div>
      <Link to="/territories" className="mb-3 inline-flex items-center gap-1 text-sm text-muted-foreground hover:text-foreground">
        <ArrowLeft className="size-4" aria-hidden /> Territories
      </Link>
      <PageHeader
        title={detail.data?.name ?? territoryId}
        description={
          detail.data
            ? `${detail.data.region ?? ""} · ${formatCount(detail.data.client_count)} clients · advisors: ${
                detail.data.advisors.map((a) => a.name ?? a.advisor_id).join(", ") || "none"
              }`
            : undefined
        }
        actions={detail.data?.clients_by_tier.map((t) => (
          <Badge key={t.tier ?? "none"} variant="secondary">
            {t.tier ?? "no tier"}: {formatCount(t.clients)}
          </Badge>
        ))}
      />
      <Card>
        <CardContent className="p-4">
          <form
            role="search"
            className="relative mb-3 max-w-sm"
            onSubmit={(e) => {
              e.preventDefault();
              setSearch(q.trim() || undefined);
              reset();
            }}
          >
            <Search className="absolute top-2.5 left-2.5 size-4 text-muted-foreground" aria-hidden />
            <Input type="search" aria-label="Search clients in this territory" placeholder="Search clients by name" className="pl-8" value={q} onChange={(e) => setQ(e.target.value)} />
          </form>
          <QueryView
            query={page}
            isEmpty={(p) => p.items.length === 0}
            empty={<EmptyState title={search ? `No client matches “${search}”` : "No clients in this territory"} />}
          >
            {(p) => (
              <>
                <DataTable
                  caption="Clients in this territory"
                  columns={clientColumns}
                  data={p.items}
                  getRowId={(c) => c.client_id}
                  sorting={fromSortParam(sort)}
                  onSortingChange={(s) => {
                    setSort(toSortParam(s) ?? "name");
                    reset();
                  }}
                />
                <div className="mt-3 flex items-center justify-between gap-2 text-sm">
                  <span className="text-muted-foreground">
                    Page {cursors.length + 1} · {formatCount(p.total)} clients
                  </span>
                  <div className="flex gap-2">
                    <Button variant="outline" size="sm" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                      <ChevronLeft /> Previous
                    </Button>
                    <Button
                      variant="outline"
                      size="sm"
                      disabled={!p.next_cursor}
                      onClick={() => p.next_cursor && setCursors((c) => [...c, p.next_cursor as string])}
                    >
                      Next <ChevronRight />
                    </Button>
                  </div>
                </div>
              </>
            )}
          </QueryView>
        </CardContent>
      </Card>
    </div>
  );
}
