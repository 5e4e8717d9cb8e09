import type { ColumnDef } from "@tanstack/react-table";
import { Link } from "react-router";
import type { ClientSummary } from "@/client/types.gen";
import { formatUsd } from "@/lib/format";

export const clientColumns: ColumnDef<ClientSummary, unknown>[] = [
  {
    id: "name",
    accessorKey: "name",
    header: "Client",
    cell: ({ row }) => (
      <Link to={`/clients/${encodeURIComponent(row.original.client_id)}`} className="font-medium text-primary hover:underline">
        {row.original.name}
      </Link>
    ),
  },
  { id: "segment", accessorKey: "segment", header: "Segment", enableSorting: false, cell: ({ getValue }) => (getValue() as string | null) ?? "—" },
  { id: "country", accessorKey: "country", header: "Country", enableSorting: false, cell: ({ getValue }) => (getValue() as string | null) ?? "—" },
  { id: "tier", accessorKey: "tier", header: "Tier", cell: ({ getValue }) => (getValue() as string | null) ?? "—" },
  {
    id: "advisor",
    header: "Advisor",
    enableSorting: false,
    cell: ({ row }) => row.original.advisor?.name ?? row.original.advisor?.advisor_id ?? "—",
  },
  {
    id: "aum_usd",
    accessorKey: "aum_usd",
    header: "AUM",
    cell: ({ getValue }) => <span className="tabular-nums">{formatUsd(getValue() as number | null)}</span>,
  },
];
