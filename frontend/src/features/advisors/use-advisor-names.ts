import { useQuery } from "@tanstack/react-query";
import { listAdvisorsApiAdvisorsGet } from "@/client/sdk.gen";
import type { AdvisorRef } from "@/client/types.gen";
import { unwrap } from "@/lib/api";

/** Advisor names by advisor_id (assignment records carry the id, not always the name). */
export function useAdvisorName(): (a: AdvisorRef | null | undefined) => string {
  const advisors = useQuery({
    queryKey: ["advisors", undefined],
    queryFn: () => unwrap(listAdvisorsApiAdvisorsGet({ query: { limit: 500 } })),
    staleTime: 5 * 60_000,
  });
  const names = new Map(advisors.data?.items.map((a) => [a.advisor_id, a.name ?? a.email ?? a.advisor_id]));
  return (a) => (a ? (a.name ?? names.get(a.advisor_id) ?? a.email ?? a.advisor_id) : "no advisor");
}
