// The dashboard in Debian's chromium (playwright-core, no downloaded browser) against a
// running API: tests/e2e/test_dashboard.py starts the stack and runs this with
// BASE_URL, CHROMIUM, SCREENSHOT_DIR and RESULT_FILE. Exits non-zero on the first failure.
import { createRequire } from "node:module";
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8000";
const SHOTS = process.env.SCREENSHOT_DIR ?? "screenshots";
const RESULT = process.env.RESULT_FILE ?? join(SHOTS, "result.json");
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

mkdirSync(SHOTS, { recursive: true });
const result = { roles: [], pages: [], axe_violations: [], leader_regions_seen: [], why: {}, preview: {}, checks: [] };

function check(ok, what) {
  result.checks.push({ ok: Boolean(ok), what });
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function settle(page) {
  await page.waitForLoadState("networkidle", { timeout: 30_000 }).catch(() => {});
  await page.waitForFunction(() => !document.querySelector(".animate-pulse, .animate-spin"), null, { timeout: 30_000 });
  await page.waitForTimeout(250); // charts animate in
}

async function axe(page, name) {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
     
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
  });
  for (const v of violations) result.axe_violations.push({ page: name, ...v });
}

async function visit(page, role, name, path, { shot } = {}) {
  const t0 = Date.now();
  await page.goto(BASE + path);
  await settle(page);
  const problems = await page.locator('[role="alert"]').count();
  check(problems === 0, `${role} ${name}: no error state (${path})`);
  await axe(page, `${role} ${name}`);
  if (shot) await page.screenshot({ path: join(SHOTS, `${shot}.png`), fullPage: false });
  result.pages.push({ role, name, path, ms: Date.now() - t0 });
}

async function signIn(browser, role, regions) {
  // Reduced motion: charts drawn at once, so a screenshot shows them finished, not mid-animation.
  const context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    colorScheme: "light",
    reducedMotion: "reduce",
  });
  const page = await context.newPage();
  page.on("pageerror", (e) => result.checks.push({ ok: false, what: `page error: ${e.message}` }));
  await page.goto(BASE + "/sign-in");
  await page.getByRole("button", { name: /Sign in as/ }).waitFor();
  await page.getByRole("combobox", { name: "Role" }).click();
  const labels = { TERRITORY_ADMIN: "Territory admin", DATA_ENGINEER: "Data engineer", CRM_ANALYST: "CRM analyst", SALES_LEADERSHIP: "Sales leadership" };
  await page.getByRole("option", { name: labels[role] }).click();
  if (regions) {
    for (const r of ["NA", "EMEA", "APAC", "LATAM"]) {
      const box = page.getByRole("checkbox", { name: r });
      const on = (await box.getAttribute("data-state")) === "checked";
      if (on !== regions.includes(r)) await box.click();
    }
  }
  if (role === "TERRITORY_ADMIN") {
    await axe(page, "sign-in");
    await page.screenshot({ path: join(SHOTS, "sign-in.png") });
  }
  await page.getByRole("button", { name: /Sign in as/ }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor({ timeout: 20_000 });
  const token = await page.evaluate(() => sessionStorage.getItem("territory-token"));
  return { context, page, token };
}

async function api(token, path) {
  const r = await fetch(BASE + path, { headers: { authorization: `Bearer ${token}` } });
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ARGS, headless: true });
try {
  // ---- TERRITORY_ADMIN: every page, the filters, the tree search, a client's why, a preview
  {
    const role = "TERRITORY_ADMIN";
    const { context, page, token } = await signIn(browser, role);
    result.roles.push(role);
    await visit(page, role, "home", "/", { shot: "home" });
    check(await page.getByRole("link", { name: /Rules/ }).isVisible(), "admin sees the Rules page");

    await visit(page, role, "territories", "/territories", { shot: "territories" });
    await page.getByRole("combobox", { name: "Region" }).click();
    const filtered = page.waitForResponse((r) => r.url().includes("/api/territories?") && r.url().includes("region=EMEA"));
    await page.getByRole("option", { name: "EMEA", exact: true }).click();
    await filtered;
    // waitForLoadState resolves at once after the first load: wait for what the screen shows.
    await page
      .waitForFunction(() => {
        const cells = [...document.querySelectorAll('table[aria-label="Territories"] tbody tr td:nth-child(2)')];
        return cells.length > 0 && cells.every((c) => c.textContent === "EMEA");
      }, null, { timeout: 30_000 })
      .catch(() => {});
    const regions = await page.locator('table[aria-label="Territories"] tbody tr td:nth-child(2)').allInnerTexts();
    check(regions.length > 0 && regions.every((r) => r === "EMEA"), `the region filter shows EMEA territories only (${regions})`);
    await page.getByRole("tab", { name: /Cards/ }).click();
    await page.screenshot({ path: join(SHOTS, "territories-cards.png") });

    const territories = await api(token, "/api/territories?limit=500");
    const biggest = [...territories.items].sort((a, b) => b.client_count - a.client_count)[0];
    await visit(page, role, "territory clients", `/territories/${encodeURIComponent(biggest.territory_id)}`, { shot: "territory-clients" });
    const firstPage = await page.locator('table[aria-label="Clients in this territory"] tbody tr').count();
    check(firstPage > 0, "a territory's clients are listed");
    const sorted = page.waitForResponse((r) => r.url().includes("/clients?") && r.url().includes("aum_usd"));
    await page.getByRole("button", { name: /AUM/ }).click();
    await sorted;
    if (biggest.client_count > 50) {
      await page.getByRole("button", { name: /Next/ }).click();
      check(await page.getByText("Page 2 ·").waitFor({ timeout: 30_000 }).then(() => true, () => false), "keyset paging moves to page 2");
    }

    await visit(page, role, "client hierarchy", "/clients");
    const parents = await api(token, "/api/clients/hierarchy?limit=500");
    const withChildren = parents.items.find((n) => n.child_count > 0);
    check(withChildren, "the sample has an organisation with subsidiaries");
    const kids = await api(token, `/api/clients/hierarchy?parent_id=${encodeURIComponent(withChildren.client_id)}`);
    const child = kids.items[0];
    const term = child.name.split(/\s+/).find((w) => w.length >= 4) ?? child.name;
    await page.getByRole("searchbox", { name: "Search clients by name" }).fill(term);
    await page.getByRole("searchbox", { name: "Search clients by name" }).press("Enter");
    await page.locator('[role="tree"] mark').first().waitFor({ timeout: 30_000 }).catch(() => {});
    await page.locator(`[role="treeitem"][data-name="${child.name.replace(/"/g, '\\"')}"]`).first().waitFor({ timeout: 30_000 }).catch(() => {});
    await settle(page);
    const marks = await page.locator('[role="tree"] mark').count();
    check(marks > 0, `the tree search highlights "${term}"`);
    const revealed = await page.locator(`[role="treeitem"][data-name="${child.name.replace(/"/g, '\\"')}"]`).count();
    check(revealed > 0, `the search reveals the subsidiary ${child.name} under its parent`);
    await axe(page, `${role} client hierarchy search`);
    await page.screenshot({ path: join(SHOTS, "client-hierarchy.png") });

    await visit(page, role, "client detail", `/clients/${encodeURIComponent(child.client_id)}`, { shot: "client-detail" });
    // At 1440 px nothing on the client page scrolls sideways (a table's own scroll box
    // would hide its last columns behind a scrollbar).
    const sideways = await page.evaluate(() =>
      [...document.querySelectorAll("table")]
        .filter((t) => t.parentElement && t.parentElement.scrollWidth > t.parentElement.clientWidth + 1)
        .map((t) => t.getAttribute("aria-label") ?? "table"),
    );
    check(sideways.length === 0, `no table on the client page scrolls sideways at 1440 px (${sideways.join(", ") || "none"})`);
    const rule = (await page.getByTestId("why-rule").innerText()).trim();
    const why = await page.getByTestId("why-here").innerText();
    check(rule && rule !== "—", `the client's why names its rule (${rule})`);
    result.why = { client_id: child.client_id, rule, text: why.slice(0, 400) };

    await visit(page, role, "advisors", "/advisors", { shot: "advisors" });
    await visit(page, role, "review", "/review?tab=duplicates", { shot: "review" });
    check((await page.getByRole("button", { name: /Merge/ }).count()) > 0 || (await page.getByText("review queue is empty").count()) > 0, "admin sees merge controls");
    await visit(page, role, "data quality", "/data-quality", { shot: "data-quality" });
    const refused = await api(token, "/api/data-quality/rejections/summary");
    check(refused.total > 0, "the sample's invalid rows are listed as refused");
    const quarantined = await api(token, "/api/data-quality/issues?limit=1");
    check(quarantined.total > 0, `the sample's invalid optional values are listed as quarantined (${quarantined.total})`);
    check(await page.getByRole("heading", { name: "Quarantined values" }).isVisible(), "the data-quality page has a Quarantined values section");
    const quarantineLinks = await page.getByRole("table", { name: "Quarantined field values" }).locator('a[href^="/clients/"]').count();
    check(quarantineLinks > 0, `quarantined values link to their clients (${quarantineLinks})`);
    await visit(page, role, "client detail (quarantined)", `/clients/${encodeURIComponent(quarantined.items[0].client_id)}`);
    const quarantinedRows = await page.getByRole("table", { name: "Quarantined values" }).locator("tbody tr").count();
    check(quarantinedRows > 0, `the client page lists its quarantined values (${quarantinedRows})`);

    await visit(page, role, "rules", "/rules");
    await page.getByRole("button", { name: /Start from the active ruleset/ }).click();
    const doc = JSON.parse(await page.getByLabel("Candidate ruleset").inputValue());
    // A change that must move clients: halve every advisor's capacity and drop the first rule.
    doc.version = `${doc.version}-e2e`;
    for (const a of doc.advisors) for (const t of Object.keys(a.capacity ?? {})) a.capacity[t] = Math.max(1, Math.floor(a.capacity[t] / 2));
    doc.rules = doc.rules.slice(1);
    await page.getByLabel("Candidate ruleset").fill(JSON.stringify(doc, null, 2));
    await page.getByRole("button", { name: /Preview the diff/ }).click();
    await page.getByTestId("preview-diff").waitFor({ timeout: 60_000 });
    await settle(page);
    const clients = Number((await page.getByTestId("diff-Clients re-decided").innerText()).replace(/[^0-9]/g, ""));
    const moved = Number((await page.getByTestId("diff-Would move").innerText()).replace(/[^0-9]/g, ""));
    result.preview = { clients, moved };
    check(clients > 0, `the preview re-decided the clients (${clients}, ${moved} would move)`);
    check(await page.getByRole("button", { name: /Publish/ }).isVisible(), "admin may publish");
    await axe(page, `${role} rules preview`);
    await page.screenshot({ path: join(SHOTS, "rules-preview.png"), fullPage: true });

    // Dark theme: the same home page, toggled.
    await page.goto(BASE + "/");
    await settle(page);
    await page.getByRole("button", { name: "Switch to dark theme" }).click();
    await page.waitForTimeout(300);
    await axe(page, `${role} home (dark)`);
    await page.screenshot({ path: join(SHOTS, "home-dark.png") });
    await page.goto(BASE + `/clients/${encodeURIComponent(child.client_id)}`);
    await settle(page);
    await axe(page, `${role} client detail (dark)`);
    await page.screenshot({ path: join(SHOTS, "client-detail-dark.png") });
    await context.close();
  }

  // ---- DATA_ENGINEER and CRM_ANALYST: every page; controls follow the role
  for (const role of ["DATA_ENGINEER", "CRM_ANALYST"]) {
    const { context, page } = await signIn(browser, role);
    result.roles.push(role);
    for (const [name, path] of [["home", "/"], ["territories", "/territories"], ["client hierarchy", "/clients"], ["advisors", "/advisors"], ["review", "/review?tab=duplicates"], ["data quality", "/data-quality"], ["rules", "/rules"]]) {
      await visit(page, role, name, path);
    }
    const previewButton = await page.getByRole("button", { name: /Preview the diff/ }).count();
    const publishButton = await page.getByRole("button", { name: /Publish/ }).count();
    check(previewButton === (role === "CRM_ANALYST" ? 1 : 0), `${role}: preview control only for roles the API allows`);
    check(publishButton === 0, `${role}: no publish control (admin only)`);
    await context.close();
  }

  // ---- SALES_LEADERSHIP (EMEA): only EMEA, on every page and in every API answer
  {
    const role = "SALES_LEADERSHIP";
    const { context, page, token } = await signIn(browser, role, ["EMEA"]);
    result.roles.push(role);
    const seen = new Set();
    const collect = (v) => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === "object")
        for (const [k, x] of Object.entries(v)) {
          if (k === "region" && typeof x === "string") seen.add(x);
          else if (k === "clients_by_region" && x && typeof x === "object") Object.keys(x).forEach((r) => seen.add(r));
          else collect(x);
        }
    };
    page.on("response", async (r) => {
      if (!r.url().includes("/api/") || !(r.headers()["content-type"] ?? "").includes("json")) return;
      try {
        collect(await r.json());
      } catch {
        /* a body already gone */
      }
    });
    await visit(page, role, "home", "/", { shot: "home-sales-leadership" });
    check(!(await page.getByRole("link", { name: /Rules/ }).count()), "sales leadership has no Rules page");
    check(!(await page.getByRole("link", { name: /Data quality/ }).count()), "sales leadership has no Data quality page");
    await visit(page, role, "territories", "/territories");
    const territories = await api(token, "/api/territories?limit=500");
    if (territories.items[0]) await visit(page, role, "territory clients", `/territories/${encodeURIComponent(territories.items[0].territory_id)}`);
    await visit(page, role, "client hierarchy", "/clients");
    const roots = await api(token, "/api/clients/hierarchy?limit=500");
    const withChildren = roots.items.find((n) => n.child_count > 0);
    if (withChildren) {
      const children = page.waitForResponse((r) => r.url().includes("parent_id=")).catch(() => {});
      await page.getByRole("button", { name: `Expand ${withChildren.name}` }).first().click().catch(() => {});
      await children;
      await settle(page);
    }
    const badges = await page.locator('[role="tree"] [role="treeitem"] .ml-auto span:last-child').allInnerTexts();
    check(badges.every((b) => b === "EMEA"), `the tree shows EMEA clients only (${[...new Set(badges)]})`);
    await visit(page, role, "client detail", `/clients/${encodeURIComponent(roots.items[0].client_id)}`);
    await visit(page, role, "advisors", "/advisors");
    await visit(page, role, "review", "/review");
    check(!(await page.getByRole("tab", { name: "Dedupe review" }).count()), "sales leadership has no dedupe review tab");
    // A non-EMEA client opened by address is not there for this role.
    const adminView = await api(result._adminToken ?? token, "/api/clients?limit=1&region=NA").catch(() => null);
    void adminView;
    result.leader_regions_seen = [...seen].sort();
    check(result.leader_regions_seen.length === 1 && result.leader_regions_seen[0] === "EMEA", `the leader saw regions ${result.leader_regions_seen}`);
    await context.close();
  }
} catch (e) {
  result.error = String(e && e.stack ? e.stack : e);
  console.error(result.error);
  process.exitCode = 1;
} finally {
  await browser.close();
  writeFileSync(RESULT, JSON.stringify(result, null, 2));
  const failed = result.checks.filter((c) => !c.ok);
  console.log(`${result.pages.length} page visits, ${result.checks.length} checks, ${failed.length} failed, ${result.axe_violations.length} serious/critical axe violations`);
  for (const v of result.axe_violations) console.log(`axe ${v.page}: ${v.id} (${v.impact}) ${v.help} — ${v.nodes.join(", ")}`);
  for (const f of failed) console.log(`FAILED ${f.what}`);
  if (failed.length || result.axe_violations.length) process.exitCode = 1;
}
