import {
  ClipboardCheck,
  Gauge,
  LogOut,
  Map,
  Moon,
  Network,
  ScrollText,
  ShieldAlert,
  Sun,
  Users,
} from "lucide-react";
import { NavLink, Outlet } from "react-router";
import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import { useAuth } from "@/lib/auth";
import { ROLE_LABELS } from "@/lib/permissions";
import { useTheme } from "@/lib/theme";
import { cn } from "@/lib/utils";

export function AppShell() {
  const { me, can, signOut } = useAuth();
  const [theme, toggleTheme] = useTheme();
  const nav = [
    { to: "/", label: "Home", icon: Gauge, show: true },
    { to: "/territories", label: "Territories", icon: Map, show: true },
    { to: "/clients", label: "Client hierarchy", icon: Network, show: true },
    { to: "/advisors", label: "Advisor workloads", icon: Users, show: true },
    { to: "/review", label: "Conflicts & review", icon: ClipboardCheck, show: true },
    { to: "/rules", label: "Rules", icon: ScrollText, show: can.steward },
    { to: "/data-quality", label: "Data quality", icon: ShieldAlert, show: can.steward },
  ];
  return (
    <div className="flex min-h-screen">
      <aside className="sticky top-0 hidden h-screen w-60 shrink-0 flex-col border-r bg-sidebar md:flex">
        <div className="flex h-14 items-center gap-2 border-b px-5">
          <img src="/favicon.svg" alt="" className="size-6" />
          <span className="font-semibold tracking-tight">Territory Engine</span>
        </div>
        <nav aria-label="Main" className="flex-1 space-y-1 p-3">
          {nav
            .filter((n) => n.show)
            .map((n) => (
              <NavLink
                key={n.to}
                to={n.to}
                end={n.to === "/"}
                className={({ isActive }) =>
                  cn(
                    "flex items-center gap-3 rounded-md px-3 py-2 text-sm font-medium text-muted-foreground transition-colors hover:bg-accent hover:text-accent-foreground",
                    isActive && "bg-accent text-accent-foreground",
                  )
                }
              >
                <n.icon className="size-4" aria-hidden />
                {n.label}
              </NavLink>
            ))}
        </nav>
        {me ? (
          <div className="border-t p-4 text-xs">
            <p className="truncate font-medium" title={me.subject}>
              {me.subject}
            </p>
            <div className="mt-2 flex flex-wrap gap-1">
              {me.roles.map((r) => (
                <Badge key={r} variant="secondary">
                  {ROLE_LABELS[r]}
                </Badge>
              ))}
            </div>
            <p className="mt-2 text-muted-foreground">
              Regions: {me.regions === null ? "all" : me.regions.join(", ") || "none"}
            </p>
          </div>
        ) : null}
      </aside>
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="sticky top-0 z-30 flex h-14 items-center justify-between gap-2 border-b bg-background/90 px-6 backdrop-blur">
          <nav aria-label="Sections" className="flex gap-1 overflow-x-auto md:hidden">
            {nav
              .filter((n) => n.show)
              .map((n) => (
                <NavLink key={n.to} to={n.to} end={n.to === "/"} className="rounded p-2" aria-label={n.label}>
                  <n.icon className="size-4" aria-hidden />
                </NavLink>
              ))}
          </nav>
          <p className="hidden text-sm text-muted-foreground md:block">
            {me?.regions ? `Showing ${me.regions.join(", ")} only` : "All regions"}
          </p>
          <div className="flex items-center gap-1">
            <Button
              variant="ghost"
              size="icon"
              onClick={toggleTheme}
              aria-label={theme === "dark" ? "Switch to light theme" : "Switch to dark theme"}
            >
              {theme === "dark" ? <Sun /> : <Moon />}
            </Button>
            <Button variant="ghost" size="sm" onClick={signOut}>
              <LogOut /> Sign out
            </Button>
          </div>
        </header>
        <main className="mx-auto w-full max-w-7xl flex-1 p-6">
          <Outlet />
        </main>
      </div>
    </div>
  );
}
