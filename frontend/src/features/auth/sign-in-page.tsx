import { useMutation, useQuery } from "@tanstack/react-query";
import { KeyRound, LogIn } from "lucide-react";
import { useState } from "react";
import { Navigate, useNavigate } from "react-router";
import { authConfigApiAuthConfigGet, devTokenApiAuthDevTokenPost } from "@/client/sdk.gen";
import { LoadingState } from "@/components/states";
import { Button } from "@/components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "@/components/ui/card";
import { Checkbox } from "@/components/ui/checkbox";
import { Label } from "@/components/ui/label";
import { Select, SelectContent, SelectItem, SelectTrigger, SelectValue } from "@/components/ui/select";
import { Textarea } from "@/components/ui/textarea";
import { unwrap } from "@/lib/api";
import { useAuth } from "@/lib/auth";
import { ROLE_LABELS, type Role } from "@/lib/permissions";

export function SignInPage() {
  const { token, signIn } = useAuth();
  const navigate = useNavigate();
  const config = useQuery({
    queryKey: ["auth-config"],
    queryFn: () => unwrap(authConfigApiAuthConfigGet()),
    meta: { silent: true },
    retry: false,
  });
  const [role, setRole] = useState<Role>("TERRITORY_ADMIN");
  const [regions, setRegions] = useState<string[]>(["EMEA"]);
  const [pasted, setPasted] = useState("");
  const needsRegions = role === "SALES_LEADERSHIP";

  const dev = useMutation({
    mutationFn: () =>
      unwrap(
        devTokenApiAuthDevTokenPost({
          body: { roles: [role], regions: needsRegions ? regions : [] },
        }),
      ),
    onSuccess: (issued) => {
      signIn(issued.access_token);
      navigate("/", { replace: true });
    },
  });

  if (token) return <Navigate to="/" replace />;

  const submitToken = () => {
    const t = pasted.trim().replace(/^Bearer\s+/i, "");
    if (t) {
      signIn(t);
      navigate("/", { replace: true });
    }
  };

  return (
    <main className="flex min-h-screen items-center justify-center bg-muted/40 p-6">
      <div className="w-full max-w-md space-y-6">
        <div className="flex items-center justify-center gap-2">
          <img src="/favicon.svg" alt="" className="size-8" />
          <h1 className="text-2xl font-semibold tracking-tight">Territory Engine</h1>
        </div>
        {config.isPending ? (
          <LoadingState rows={3} label="Loading sign-in options" />
        ) : config.data?.development ? (
          <Card>
            <CardHeader>
              <CardTitle>Sign in (development)</CardTitle>
              <CardDescription>
                The API runs in development mode and issues a token for the role you pick.
              </CardDescription>
            </CardHeader>
            <CardContent className="space-y-4">
              <div className="space-y-2">
                <Label htmlFor="role">Role</Label>
                <Select value={role} onValueChange={(v) => setRole(v as Role)}>
                  <SelectTrigger id="role" aria-label="Role">
                    <SelectValue />
                  </SelectTrigger>
                  <SelectContent>
                    {config.data.roles.map((r) => (
                      <SelectItem key={r} value={r}>
                        {ROLE_LABELS[r]}
                      </SelectItem>
                    ))}
                  </SelectContent>
                </Select>
              </div>
              <fieldset className="space-y-2" disabled={!needsRegions}>
                <legend className="text-sm font-medium">
                  Regions{" "}
                  <span className="font-normal text-muted-foreground">
                    {needsRegions ? "(sales leadership sees only these)" : "(every region for this role)"}
                  </span>
                </legend>
                <div className="flex flex-wrap gap-4">
                  {config.data.regions.map((r) => (
                    <div key={r} className="flex items-center gap-2">
                      <Checkbox
                        id={`region-${r}`}
                        checked={needsRegions ? regions.includes(r) : true}
                        onCheckedChange={(on) =>
                          setRegions((cur) => (on ? [...cur, r] : cur.filter((x) => x !== r)))
                        }
                      />
                      <Label htmlFor={`region-${r}`}>{r}</Label>
                    </div>
                  ))}
                </div>
              </fieldset>
              <Button
                className="w-full"
                onClick={() => dev.mutate()}
                disabled={dev.isPending || (needsRegions && regions.length === 0)}
              >
                <LogIn /> Sign in as {ROLE_LABELS[role]}
              </Button>
            </CardContent>
          </Card>
        ) : null}
        <Card>
          <CardHeader>
            <CardTitle className="flex items-center gap-2">
              <KeyRound className="size-4" aria-hidden /> Sign in with a bearer token
            </CardTitle>
            <CardDescription>
              Paste the access token from your identity provider (OIDC). It stays in this tab only.
            </CardDescription>
          </CardHeader>
          <CardContent className="space-y-3">
            <Label htmlFor="token" className="sr-only">
              Bearer token
            </Label>
            <Textarea
              id="token"
              placeholder="eyJhbGciOi…"
              value={pasted}
              onChange={(e) => setPasted(e.target.value)}
              rows={4}
            />
            <Button variant={config.data?.development ? "outline" : "default"} className="w-full" onClick={submitToken} disabled={!pasted.trim()}>
              Use this token
            </Button>
          </CardContent>
        </Card>
      </div>
    </main>
  );
}
