import { Bar, BarChart, CartesianGrid, Cell, Pie, PieChart, ResponsiveContainer, Tooltip, XAxis, YAxis, Area, AreaChart, Legend } from "recharts";
import { useReducedMotion } from "@/lib/motion";
import { formatDay } from "@/lib/format";
import type { DayPoint, Slice } from "./chart-data";

const COLORS = ["var(--chart-1)", "var(--chart-2)", "var(--chart-3)", "var(--chart-4)", "var(--chart-5)"];
const tooltipStyle = {
  background: "var(--popover)",
  border: "1px solid var(--border)",
  borderRadius: 8,
  color: "var(--popover-foreground)",
  fontSize: 12,
};

export function TrendChart({ series }: { series: DayPoint[] }) {
  const animate = !useReducedMotion();
  return (
    <ResponsiveContainer width="100%" height={240}>
      <AreaChart data={series} margin={{ left: -16, right: 8, top: 8 }}>
        <defs>
          <linearGradient id="trend" x1="0" y1="0" x2="0" y2="1">
            <stop offset="0%" stopColor="var(--chart-1)" stopOpacity={0.35} />
            <stop offset="100%" stopColor="var(--chart-1)" stopOpacity={0} />
          </linearGradient>
        </defs>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" vertical={false} />
        <XAxis dataKey="day" tickFormatter={formatDay} tick={{ fontSize: 11, fill: "var(--muted-foreground)" }} minTickGap={24} />
        <YAxis allowDecimals={false} tick={{ fontSize: 11, fill: "var(--muted-foreground)" }} />
        <Tooltip contentStyle={tooltipStyle} labelFormatter={(d) => formatDay(String(d))} />
        <Area isAnimationActive={animate} type="monotone" dataKey="changes" name="Assignment changes" stroke="var(--chart-1)" fill="url(#trend)" strokeWidth={2} />
      </AreaChart>
    </ResponsiveContainer>
  );
}

export function DistributionChart({ slices }: { slices: Slice[] }) {
  const animate = !useReducedMotion();
  return (
    <ResponsiveContainer width="100%" height={Math.max(180, slices.length * 34)}>
      <BarChart data={slices} layout="vertical" margin={{ left: 8, right: 16 }}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" horizontal={false} />
        <XAxis type="number" allowDecimals={false} tick={{ fontSize: 11, fill: "var(--muted-foreground)" }} />
        <YAxis type="category" dataKey="name" width={220} interval={0} tick={{ fontSize: 12, fill: "var(--muted-foreground)" }} />
        <Tooltip contentStyle={tooltipStyle} cursor={{ fill: "var(--muted)" }} />
        <Bar isAnimationActive={animate} dataKey="clients" name="Clients" fill="var(--chart-2)" radius={[0, 4, 4, 0]} barSize={18} />
      </BarChart>
    </ResponsiveContainer>
  );
}

export function RegionChart({ slices }: { slices: Slice[] }) {
  const animate = !useReducedMotion();
  return (
    <ResponsiveContainer width="100%" height={240}>
      <PieChart>
        <Pie isAnimationActive={animate} data={slices} dataKey="clients" nameKey="name" innerRadius={55} outerRadius={85} paddingAngle={2}>
          {slices.map((s, i) => (
            <Cell key={s.name} fill={COLORS[i % COLORS.length]} />
          ))}
        </Pie>
        <Tooltip contentStyle={tooltipStyle} />
        <Legend wrapperStyle={{ fontSize: 12 }} />
      </PieChart>
    </ResponsiveContainer>
  );
}

export default { TrendChart, DistributionChart, RegionChart };
