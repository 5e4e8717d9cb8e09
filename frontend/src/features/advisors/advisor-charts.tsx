import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { useReducedMotion } from "@/lib/motion";
import type { TierUsage } from "./workload-data";

const tooltipStyle = {
  background: "var(--popover)",
  border: "1px solid var(--border)",
  borderRadius: 8,
  color: "var(--popover-foreground)",
  fontSize: 12,
};
const tick = { fontSize: 11, fill: "var(--muted-foreground)" };

export function CapacityChart({ tiers }: { tiers: TierUsage[] }) {
  const animate = !useReducedMotion();
  return (
    <ResponsiveContainer width="100%" height={240}>
      <BarChart data={tiers} margin={{ left: -16, right: 8, top: 8 }}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
        <XAxis dataKey="tier" tick={tick} />
        <YAxis allowDecimals={false} tick={tick} />
        <Tooltip contentStyle={tooltipStyle} cursor={{ fill: "var(--muted)" }} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
        <Bar isAnimationActive={animate} dataKey="clients" name="Clients" fill="var(--chart-1)" radius={[4, 4, 0, 0]} />
        <Bar isAnimationActive={animate} dataKey="capacity" name="Capacity" fill="var(--chart-2)" radius={[4, 4, 0, 0]} />
      </BarChart>
    </ResponsiveContainer>
  );
}

export function WorkloadChart({ data }: { data: { name: string; clients: number }[] }) {
  const animate = !useReducedMotion();
  return (
    <ResponsiveContainer width="100%" height={240}>
      <BarChart data={data} margin={{ left: -16, right: 8, top: 8 }}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
        <XAxis dataKey="name" tick={tick} interval={0} angle={-30} textAnchor="end" height={60} />
        <YAxis allowDecimals={false} tick={tick} />
        <Tooltip contentStyle={tooltipStyle} cursor={{ fill: "var(--muted)" }} />
        <Bar isAnimationActive={animate} dataKey="clients" name="Clients" fill="var(--chart-3)" radius={[4, 4, 0, 0]} />
      </BarChart>
    </ResponsiveContainer>
  );
}

export function BucketChart({ data }: { data: { bucket: string; advisors: number }[] }) {
  const animate = !useReducedMotion();
  return (
    <ResponsiveContainer width="100%" height={240}>
      <BarChart data={data} margin={{ left: -16, right: 8, top: 8 }}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
        <XAxis dataKey="bucket" tick={tick} />
        <YAxis allowDecimals={false} tick={tick} />
        <Tooltip contentStyle={tooltipStyle} cursor={{ fill: "var(--muted)" }} />
        <Bar isAnimationActive={animate} dataKey="advisors" name="Advisors" fill="var(--chart-5)" radius={[4, 4, 0, 0]} />
      </BarChart>
    </ResponsiveContainer>
  );
}
