import { useQuery } from "@tanstack/react-query";
import { Building2, ChevronRight, Loader2, UserRound } from "lucide-react";
import { useState } from "react";
import { Link } from "react-router";
import type { HierarchyNode } from "@/client/types.gen";
import { Badge } from "@/components/ui/badge";
import { cn } from "@/lib/utils";
import { highlight } from "./tree-logic";

export type LoadChildren = (parentId: string) => Promise<HierarchyNode[]>;

export interface TreeOptions {
  loadChildren: LoadChildren;
  /** Ids opened from the start (a search reveals its matches' ancestors). */
  reveal: Set<string>;
  /** Search term to highlight in names. */
  term?: string;
  /** Part of the query key: the filters the loader applies. */
  filterKey: string;
}

function Highlighted({ text, term }: { text: string; term?: string }) {
  return (
    <>
      {highlight(text, term).map((s, i) => (s.match ? <mark key={i}>{s.text}</mark> : <span key={i}>{s.text}</span>))}
    </>
  );
}

function Children({ node, depth, options }: { node: HierarchyNode; depth: number; options: TreeOptions }) {
  const children = useQuery({
    queryKey: ["hierarchy-children", node.client_id, options.filterKey],
    queryFn: () => options.loadChildren(node.client_id),
  });
  const pad = { paddingLeft: `${(depth + 1) * 1.25 + 0.5}rem` };
  return (
    <ul role="group">
      {node.advisor ? (
        <li role="treeitem" aria-level={depth + 2} aria-selected={false} className="flex items-center gap-2 py-1 text-sm text-muted-foreground" style={pad}>
          <UserRound className="size-3.5" aria-hidden />
          Advisor: <span className="text-foreground">{node.advisor.name ?? node.advisor.advisor_id}</span>
          {node.territory_id ? <span>· {node.territory_id}</span> : null}
        </li>
      ) : null}
      {children.isPending ? (
        <li className="flex items-center gap-2 py-1 text-sm text-muted-foreground" style={pad}>
          <Loader2 className="size-3.5 animate-spin" aria-hidden /> Loading subsidiaries…
        </li>
      ) : children.error ? (
        <li role="alert" className="py-1 text-sm text-destructive" style={pad}>
          Could not load the subsidiaries.
        </li>
      ) : (
        children.data.map((child) => <TreeNode key={child.client_id} node={child} depth={depth + 1} options={options} />)
      )}
    </ul>
  );
}

export function TreeNode({ node, depth, options }: { node: HierarchyNode; depth: number; options: TreeOptions }) {
  const [open, setOpen] = useState(() => options.reveal.has(node.client_id));
  const expandable = node.child_count > 0 || node.advisor !== null;
  const matched = Boolean(options.term && node.name.toLowerCase().includes(options.term.toLowerCase()));
  return (
    <li
      role="treeitem"
      aria-level={depth + 1}
      aria-expanded={expandable ? open : undefined}
      aria-selected={false}
      data-name={node.name}
      data-match={matched || undefined}
    >
      <div
        className={cn("group flex items-center gap-2 rounded-md py-1.5 pr-2 hover:bg-muted/60", matched && "bg-amber-50 dark:bg-amber-400/10")}
        style={{ paddingLeft: `${depth * 1.25 + 0.25}rem` }}
      >
        <button
          type="button"
          className={cn("flex size-6 items-center justify-center rounded hover:bg-accent focus-visible:ring-2 focus-visible:ring-ring focus-visible:outline-none", !expandable && "invisible")}
          aria-label={open ? `Collapse ${node.name}` : `Expand ${node.name}`}
          onClick={() => setOpen((o) => !o)}
          tabIndex={expandable ? 0 : -1}
        >
          <ChevronRight className={cn("size-4 transition-transform", open && "rotate-90")} aria-hidden />
        </button>
        <Building2 className="size-4 shrink-0 text-muted-foreground" aria-hidden />
        <Link to={`/clients/${encodeURIComponent(node.client_id)}`} className="truncate text-sm font-medium hover:underline">
          <Highlighted text={node.name} term={options.term} />
        </Link>
        <span className="ml-auto flex shrink-0 items-center gap-1.5">
          {node.child_count > 0 ? (
            <Badge variant="outline">
              {node.child_count} {node.child_count === 1 ? "subsidiary" : "subsidiaries"}
            </Badge>
          ) : null}
          {node.segment ? <Badge variant="secondary" className="hidden sm:inline-flex">{node.segment}</Badge> : null}
          {node.region ? <Badge variant="secondary">{node.region}</Badge> : null}
        </span>
      </div>
      {open && expandable ? <Children node={node} depth={depth} options={options} /> : null}
    </li>
  );
}

export function HierarchyTree({ roots, options, label }: { roots: HierarchyNode[]; options: TreeOptions; label: string }) {
  return (
    <ul role="tree" aria-label={label} className="space-y-0.5">
      {roots.map((n) => (
        <TreeNode key={n.client_id} node={n} depth={0} options={options} />
      ))}
    </ul>
  );
}
