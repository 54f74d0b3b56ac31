/**
 * The operator console page. Plain DOM, no framework; every text goes in with `textContent`, never
 * as HTML. It holds no credential: the session cookie is HttpOnly, and the CSRF token the sign-in
 * answers is kept in sessionStorage (this tab only) and sent as `x-privface-csrf`. What an operator
 * may see or do is decided by the gateway for every request; the menu only hides what their role
 * cannot use, and a refusal (FORBIDDEN_ROLE, SAME_APPROVER, QUOTA_EXCEEDED, …) is shown with its code.
 */
import { currentLang, errorText, setLang, t, type Key } from "./i18n.ts";

type Role = "admin" | "operator" | "auditor";
interface Session {
  operatorId: string;
  role: Role;
  csrfToken: string;
  idleExpiresAt: number;
  expiresAt: number;
}
type View = "dashboard" | "merchants" | "persons" | "devices" | "approvals" | "holds" | "audit";

const MENU: Record<Role, View[]> = {
  admin: ["dashboard", "merchants", "devices", "approvals"],
  operator: ["dashboard", "merchants", "persons", "devices", "approvals", "holds"],
  auditor: ["dashboard", "merchants", "persons", "devices", "holds", "audit"],
};
const VIEWS: View[] = ["dashboard", "merchants", "persons", "devices", "approvals", "holds", "audit"];
const CSRF_KEY = "privface-console-csrf";
const POLL_MS = 3000;

let session: Session | null = null;
let poll: ReturnType<typeof setInterval> | undefined;
const $ = (id: string) => document.getElementById(id)!;

class RequestError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

// ---- the gateway API ----------------------------------------------------------------------------

async function api(method: string, path: string, o: { reason?: string; body?: unknown } = {}): Promise<any> {
  const headers: Record<string, string> = {};
  const csrf = session?.csrfToken ?? sessionStorage.getItem(CSRF_KEY);
  if (csrf) headers["x-privface-csrf"] = csrf;
  // headers are Latin-1: a reason in Chinese travels percent-encoded (UTF-8); the gateway decodes it
  if (o.reason !== undefined) headers["x-privface-reason"] = encodeURIComponent(o.reason);
  if (o.body !== undefined) headers["content-type"] = "application/json";
  let r: Response;
  try {
    r = await fetch(path, { method, headers, credentials: "same-origin", cache: "no-store", ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) });
  } catch {
    throw new RequestError("NETWORK");
  }
  const body = await r.json().catch(() => undefined);
  if (!r.ok) {
    const code: string = body?.error?.code ?? "OTHER";
    if (code === "SESSION_EXPIRED" || (code === "UNAUTHENTICATED" && path !== "/v1/console/sessions")) {
      forget();
      renderSignIn();
    }
    throw new RequestError(code);
  }
  return body;
}

// ---- small DOM helpers --------------------------------------------------------------------------

type Child = Node | string | number | null | undefined | false;
function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(typeof c === "number" ? String(c) : c);
  return e;
}
function table(cols: Key[], rows: Child[][], caption?: string): HTMLTableElement {
  return el(
    "table",
    {},
    caption ? el("caption", {}, caption) : null,
    el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { scope: "col" }, t(c))))),
    // a row of one cell ("none") spans the table
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", r.length === 1 ? { colspan: String(cols.length) } : {}, c))))),
  );
}
function field(id: string, label: Key, attrs: Record<string, string> = {}): HTMLElement {
  return el("p", { class: "field" }, el("label", { for: id }, t(label)), el("input", { id, name: id, ...attrs }));
}
function button(text: string, onClick: () => void | Promise<void>, attrs: Record<string, string> = {}): HTMLButtonElement {
  const b = el("button", { type: "button", ...attrs }, text);
  b.addEventListener("click", () => void onClick());
  return b;
}
const time = (ms: number) => new Date(ms).toLocaleString(currentLang());
const yesNo = (v: boolean) => t(v ? "yes" : "no");
const input = (id: string) => (document.getElementById(id) as HTMLInputElement | null)?.value.trim() ?? "";

function say(text: string, kind: "error" | "info"): void {
  const a = $("alert");
  a.className = kind;
  a.textContent = text;
}
function clearAlert(): void {
  $("alert").className = "";
  $("alert").textContent = "";
}
function fail(e: unknown): void {
  const code = e instanceof RequestError ? e.code : "OTHER";
  say(`${errorText(code)} (${code})`, "error");
}
/** A query of personal data: the form's reason first (at least 3 characters), then `run` with it; a refusal goes to the alert. */
function onQuery(form: HTMLFormElement, run: (reason: string) => Promise<void>): void {
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const reason = input("reason");
    if (reason.length < 3) return say(t("reasonNeeded"), "error");
    void attempt(async () => {
      clearAlert();
      await run(reason);
    });
  });
}
/** Runs an action, showing its refusal in the alert region. */
async function attempt(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    fail(e);
  }
}

// ---- session ------------------------------------------------------------------------------------

function forget(): void {
  session = null;
  sessionStorage.removeItem(CSRF_KEY);
  if (poll) clearInterval(poll);
}

function renderChrome(): void {
  document.documentElement.lang = currentLang();
  document.title = t("title");
  $("title").textContent = t("title");
  $("lang").textContent = t("switchTo");
  const nav = $("nav");
  const who = $("who");
  nav.replaceChildren();
  who.replaceChildren();
  if (!session) return;
  const current = viewOf();
  for (const v of MENU[session.role]) {
    const b = el("a", { href: `#${v}`, ...(v === current ? { "aria-current": "page" } : {}) }, t(v));
    nav.append(b);
  }
  who.append(el("span", { id: "me" }, `${session.operatorId} · ${t(`role_${session.role}` as Key)}`), button(t("signOut"), signOut, { id: "sign-out" }));
}

function renderSignIn(): void {
  renderChrome();
  const form = el(
    "form",
    { id: "sign-in", "aria-labelledby": "sign-in-title" },
    el("h2", { id: "sign-in-title" }, t("signIn")),
    field("op-id", "operatorId", { autocomplete: "username", required: "", autofocus: "" }),
    field("op-token", "credential", { type: "password", autocomplete: "current-password", required: "" }),
    el("button", { type: "submit" }, t("signIn")),
    el("p", { class: "hint" }, t("signInHint")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void attempt(async () => {
      const s: Session = await api("POST", "/v1/console/sessions", { body: { operatorId: input("op-id"), token: (document.getElementById("op-token") as HTMLInputElement).value } });
      session = s;
      sessionStorage.setItem(CSRF_KEY, s.csrfToken);
      clearAlert();
      if (!location.hash) location.hash = "#dashboard";
      else void route();
    });
  });
  $("main").replaceChildren(form);
  (document.getElementById("op-id") as HTMLInputElement).focus();
}

async function signOut(): Promise<void> {
  await api("DELETE", "/v1/console/session").catch(() => undefined);
  forget();
  clearAlert();
  renderSignIn();
}

// ---- views --------------------------------------------------------------------------------------

function viewOf(): View {
  const h = location.hash.slice(1) as View;
  return VIEWS.includes(h) ? h : "dashboard";
}

async function route(): Promise<void> {
  if (poll) clearInterval(poll);
  if (!session) return renderSignIn();
  renderChrome();
  clearAlert();
  const v = viewOf();
  const main = $("main");
  main.replaceChildren(el("h2", { id: "view-title" }, t(v)));
  const body = el("section", { id: `view-${v}` });
  main.append(body);
  await attempt(() => RENDER[v](body));
}

const RENDER: Record<View, (into: HTMLElement) => Promise<void>> = {
  async dashboard(into) {
    const samples: { at: number; total: number }[] = [];
    const draw = async () => {
      const d = await api("GET", "/v1/admin/dashboard");
      const v = d.decisions.verify ?? { accept: 0, reject: 0 };
      const total = v.accept + v.reject;
      samples.push({ at: d.at, total });
      if (samples.length > 31) samples.shift();
      const rates = samples.slice(1).map((s, i) => ((s.total - samples[i].total) * 60_000) / Math.max(1, s.at - samples[i].at));
      const errors = Object.entries(d.errors as Record<string, number>).sort((a, b) => b[1] - a[1]);
      const invalid = errors.reduce((n, [, c]) => n + c, 0);
      const pct = (n: number) => (total === 0 ? "–" : `${((100 * n) / total).toFixed(1)}%`);
      const ms = (x: number | null) => (x === null ? "–" : String(Math.round(x * 10) / 10));
      into.replaceChildren(
        el(
          "div",
          { class: "cards" },
          card(t("perMinute"), rates.length ? rates.at(-1)!.toFixed(1) : t("waitingSamples"), chart(rates)),
          card(t("acceptRate"), pct(v.accept), t("totals", { a: v.accept, r: v.reject })),
          card(t("rejectRate"), pct(v.reject)),
          card(t("invalid"), String(invalid)),
          card(t("latency"), `p50 ${ms(d.latencyMs.p50)} · p95 ${ms(d.latencyMs.p95)} · p99 ${ms(d.latencyMs.p99)}`, `n = ${d.latencyMs.count}`),
        ),
        partiesTable(d.parties),
        table(["col_code", "col_count"], errors.map(([c, n]) => [c, n]), t("errorsByCode")),
      );
    };
    await draw();
    poll = setInterval(() => void draw().catch(fail), POLL_MS);
  },

  async merchants(into) {
    const r = await api("GET", "/v1/admin/merchants?limit=100");
    into.replaceChildren(table(["col_merchant", "col_name_merchant", "col_created"], r.merchants.map((m: any) => [m.merchantId, m.name, time(m.createdAt)])));
  },

  async persons(into) {
    const out = el("div", { id: "persons-result" });
    const form = el(
      "form",
      { id: "persons-query" },
      field("reason", "reason", { maxlength: "200", "aria-required": "true" }),
      field("merchant-filter", "merchantFilter"),
      el("button", { type: "submit" }, t("query")),
      el("p", { class: "hint" }, t("rowsCap")),
    );
    onQuery(form, async (reason) => {
        const m = input("merchant-filter");
        const r = await api("GET", `/v1/admin/persons?limit=100${m ? `&merchantId=${encodeURIComponent(m)}` : ""}`, { reason });
        out.replaceChildren(
          el("p", { id: "rows-shown" }, t("shown", { n: r.persons.length })),
          table(
            ["col_person", "col_role", "col_name", "col_idNumber", "col_phone", "col_consent", "col_enrolled", "col_locked", "col_action"],
            r.persons.map((p: any) => [
              p.personId,
              t(p.role as Key),
              p.name,
              p.idNumber,
              p.phone,
              t(`consent_${p.consent}` as Key),
              yesNo(p.enrolled),
              yesNo(p.locked),
              p.locked && session?.role === "operator"
                ? button(
                    t("requestUnlock"),
                    () =>
                      attempt(async () => {
                        await api("POST", `/v1/admin/persons/${encodeURIComponent(p.personId)}/unlock`, { reason });
                        say(t("unlockRequested"), "info");
                      }),
                    { "data-unlock": p.personId },
                  )
                : "",
            ]),
          ),
        );
    });
    into.replaceChildren(form, out);
  },

  async devices(into) {
    const r = await api("GET", "/v1/admin/devices?limit=100");
    const admin = session?.role === "admin";
    // setting or clearing the still-image flag waits for a second operator (dual control, R27)
    const flip = (d: any) =>
      button(
        t(d.stillImage ? "requestStillImageOff" : "requestStillImageOn"),
        () =>
          attempt(async () => {
            const reason = input("still-reason");
            if (reason.length < 3) throw new RequestError("REASON_REQUIRED");
            await api("POST", `/v1/admin/devices/${encodeURIComponent(d.deviceId)}/still-image`, { reason, body: { stillImage: !d.stillImage } });
            say(t("stillImageRequested"), "info");
          }),
        { "data-still-image": d.deviceId },
      );
    const list = table(
      ["col_device", "col_merchant", "col_label", "col_status", "col_locked", "col_requestedBy", "col_approvedBy", "col_stillImage", ...(admin ? (["col_action"] as Key[]) : [])],
      r.devices.map((d: any) => [d.deviceId, d.merchantId, d.label ?? "", t(`status_${d.status}` as Key), yesNo(d.locked), d.requestedBy ?? "", d.approvedBy ?? "", yesNo(d.stillImage === true), ...(admin ? [flip(d)] : [])]),
    );
    into.replaceChildren(...(admin ? [field("still-reason", "stillImageReason", { minlength: "3", maxlength: "200" })] : []), list);
    if (!admin) return;
    const form = el(
      "form",
      { id: "device-register" },
      el("h3", {}, t("registerDevice")),
      field("dev-merchant", "merchantId", { required: "" }),
      el("p", { class: "field" }, el("label", { for: "dev-suite" }, t("suite")), el("select", { id: "dev-suite" }, el("option", { value: "INTL" }, "INTL"), el("option", { value: "GM" }, "GM"))),
      field("dev-public", "publicKey", { required: "" }),
      field("dev-auth", "authKey", { required: "" }),
      field("dev-label", "label"),
      el("button", { type: "submit" }, t("register")),
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void attempt(async () => {
        const label = input("dev-label");
        await api("POST", `/v1/admin/merchants/${encodeURIComponent(input("dev-merchant"))}/devices`, {
          body: { suite: (document.getElementById("dev-suite") as HTMLSelectElement).value, publicKey: input("dev-public"), authKey: input("dev-auth"), ...(label ? { label } : {}) },
        });
        await route();
        say(t("registered"), "info");
      });
    });
    into.append(form);
  },

  async approvals(into) {
    const r = await api("GET", "/v1/admin/approvals");
    const reason = () => {
      const v = input("approve-reason");
      if (v.length < 3) throw new RequestError("REASON_REQUIRED");
      return v;
    };
    const act = (path: string, withReason: boolean) => () =>
      attempt(async () => {
        await api("POST", path, withReason ? { reason: reason() } : {});
        await route();
        say(t("approved"), "info");
      });
    const none = (rows: Child[][]) => (rows.length ? rows : [[t("nothingPending")]]);
    into.replaceChildren(
      field("approve-reason", "approveReason", { minlength: "3", maxlength: "200" }),
      el("h3", {}, t("pendingDevices")),
      table(
        ["col_device", "col_merchant", "col_label", "col_requestedBy", "col_action"],
        none(r.devices.map((d: any) => [d.deviceId, d.merchantId, d.label ?? "", d.requestedBy ?? "", button(t("approve"), act(`/v1/admin/devices/${encodeURIComponent(d.deviceId)}/approve`, false), { "data-approve": d.deviceId })])),
      ),
      el("h3", {}, t("pendingUnlocks")),
      table(
        ["col_kind", "col_subject", "col_requestedBy", "col_requestReason", "col_time", "col_action"],
        none(
          r.approvals.map((a: any) => [t(`kind_${a.action.replace(/[.-]/g, "_")}` as Key), a.subject, a.requestedBy, a.reason, time(a.requestedAt), button(t("approve"), act(`/v1/admin/approvals/${encodeURIComponent(a.approvalId)}/approve`, true), { "data-approve": a.approvalId })]),
        ),
      ),
      el("h3", {}, t("pendingChecks")),
      table(
        ["col_subject", "col_requestedBy", "col_time", "col_action"],
        none(r.identityChecks.map((c: any) => [c.personId, c.requestedBy, time(c.requestedAt), button(t("approve"), act(`/v1/admin/identity-checks/${encodeURIComponent(c.checkId)}/approve`, true), { "data-approve": c.checkId })])),
      ),
    );
  },

  /** Enrolments held for review (ENROL_DEDUP=hold): the held and the matching persons, masked by the gateway. */
  async holds(into) {
    const out = el("div", { id: "holds-result" });
    const form = el("form", { id: "holds-query" }, field("reason", "reason", { maxlength: "200", "aria-required": "true" }), el("button", { type: "submit" }, t("query")), el("p", { class: "hint" }, t("holdsHint")));
    const personRow = (p: any): Child[] => [p.personId, p.merchantId, t(p.role as Key), p.name, p.idNumber, p.phone];
    const cols: Key[] = ["col_person", "col_merchant", "col_role", "col_name", "col_idNumber", "col_phone"];
    onQuery(form, async (reason) => {
        const r = await api("GET", "/v1/admin/holds", { reason });
        const decide = (h: any, decision: "approve" | "reject") => () =>
          attempt(async () => {
            await api("POST", `/v1/admin/holds/${encodeURIComponent(h.holdId)}/decision`, { reason, body: { decision } });
            say(t("decisionRequested"), "info");
          });
        out.replaceChildren(
          ...(r.holds.length === 0 ? [el("p", {}, t("noHolds"))] : []),
          ...r.holds.map((h: any) =>
            el(
              "article",
              { class: "hold", "data-hold": h.holdId },
              el("h3", {}, `${t("heldPerson")} · ${t("heldSince", { at: time(h.at) })}`),
              table(cols, [personRow(h.person)]),
              table(cols, h.matches.map(personRow), t("matchingPersons")),
              h.more > 0 ? el("p", { class: "hint" }, t("moreMatches", { n: h.more })) : null,
              session?.role === "operator"
                ? el("p", { class: "actions" }, button(t("requestApprove"), decide(h, "approve"), { "data-decide": "approve" }), button(t("requestReject"), decide(h, "reject"), { "data-decide": "reject" }))
                : null,
            ),
          ),
        );
    });
    into.replaceChildren(form, out);
  },

  async audit(into) {
    const r = await api("GET", "/v1/admin/audit");
    const g = r.gateway;
    into.replaceChildren(
      el(
        "div",
        { class: `chain ${g.ok ? "ok" : "broken"}`, id: "gateway-chain" },
        el("h3", {}, t("gatewayChain")),
        el("p", { class: "badge" }, g.ok ? `✓ ${t("chainOk")}` : `✗ ${t("chainBroken")}`),
        el("p", {}, t("records", { n: g.records })),
        g.firstBroken ? el("p", {}, t("firstBroken", { seq: g.firstBroken.seq, reason: g.firstBroken.reason })) : null,
      ),
      partiesTable(r.parties, true),
      reconcileTable(r.anchors, r.parties),
      el("section", { id: "decisions" }),
      table(["col_seq", "col_time", "col_actor", "col_op", "col_outcome", "col_code", "col_subject"], g.recent.map((x: any) => [x.seq, time(x.time), x.actor, x.op, x.outcome, x.code ?? "", x.subject ?? ""]), t("recent")),
    );
    await decisionsPage($("decisions"));
  },
};

function card(title: string, value: string, extra?: Child): HTMLElement {
  return el("div", { class: "card" }, el("h3", {}, title), el("p", { class: "value" }, value), extra ?? null);
}

/** Bars of the last rates (SVG, no library). */
function chart(values: number[]): SVGSVGElement {
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 300 60");
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("perMinute"));
  const max = Math.max(1, ...values);
  values.forEach((v, i) => {
    const r = document.createElementNS(NS, "rect");
    const h = (v / max) * 56;
    r.setAttribute("x", String(i * 10));
    r.setAttribute("y", String(58 - h));
    r.setAttribute("width", "8");
    r.setAttribute("height", String(Math.max(0.5, h)));
    svg.append(r);
  });
  return svg;
}

/**
 * Cross-party reconciliation: the gateway's signed head, sent to each party as the auditor opens the
 * view, checked there against the head the party keeps; and the heads each party refused as going back
 * (its peer's or the gateway's log cut or rewritten), from its metrics.
 */
function reconcileTable(anchors: Record<string, { outcome: string; seq: number | null }>, parties: Record<string, any>): HTMLTableElement {
  const verdict = (o: string) => (o === "stored" || o === "known" ? `✓ ${t("anchorOk")}` : o === "regressed" ? `✗ ${t("anchorRegressed")}` : t(o === "empty" ? "anchorEmpty" : "unreachable"));
  const rows = Object.entries(anchors).map(([p, a]) => {
    const n = parties[p]?.anchorRegressions;
    return [p, el("span", { class: a.outcome === "regressed" ? "bad" : a.outcome === "stored" || a.outcome === "known" ? "good" : "" }, verdict(a.outcome)), a.seq ?? "–", n === undefined ? t("notReported") : n === 0 ? `✓ 0` : `✗ ${n}`];
  });
  return table(["party", "col_anchor", "col_anchorSeq", "col_regressions"], rows, t("reconcile"));
}

/**
 * Cross-party reconciliation record by record (GET /v1/admin/audit/reconciliation): a summary, each
 * party's read status, and one row per session — the gateway's decision, each party's records, the
 * mismatches — 100 per page, older pages by the gateway seq the answer names.
 */
async function decisionsPage(into: HTMLElement, before?: number): Promise<void> {
  const r = await api("GET", `/v1/admin/audit/reconciliation${before ? `?before=${before}` : ""}`);
  const ops = (xs: string[]) => (xs.length ? xs.join(", ") : t("noRecord"));
  const rows = r.rows.map((x: any) => {
    const bad = x.mismatches.length > 0;
    const check = el("span", { class: bad ? "bad" : "good" }, bad ? `✗ ${x.mismatches.map((m: string) => t(`m_${m}` as Key)).join("；")}` : `✓ ${t("consistent")}`);
    return [time(x.time), el("code", {}, x.session), x.gateway ? `${x.gateway.op} · ${x.gateway.outcome}${x.gateway.code ? ` · ${x.gateway.code}` : ""}` : t("noDecision"), ops(x.P0), ops(x.P1), check];
  });
  const tbl = table(["col_time", "col_session", "col_gateway", "col_p0", "col_p1", "col_check"], rows.length ? rows : [[t("nothingPending")]], t("decisions"));
  // each row names its session and whether it reconciled (tests and assistive tools find them)
  r.rows.forEach((x: any, i: number) => {
    const tr = tbl.tBodies[0].rows[i];
    tr.dataset.session = x.session;
    tr.dataset.mismatches = x.mismatches.join(" ");
  });
  into.replaceChildren(
    el("p", { class: r.mismatched > 0 ? "summary bad" : "summary good", id: "decisions-summary" }, t("decisionsSummary", { n: r.rows.length, ok: r.reconciled, bad: r.mismatched })),
    el("p", { class: "hint" }, ...Object.entries(r.parties).map(([p, s]) => el("span", { class: s === "ok" ? "" : "bad" }, t("decisionsParty", { p, s: t(`party_${s}` as Key) }), "　"))),
    tbl,
    ...(r.more ? [el("p", { class: "hint" }, t("moreRows"))] : []),
    el(
      "p",
      { class: "actions" },
      before ? button(t("newestPage"), () => attempt(() => decisionsPage(into)), { id: "decisions-newest" }) : null,
      r.next ? button(t("olderPage"), () => attempt(() => decisionsPage(into, r.next)), { id: "decisions-older" }) : null,
    ),
  );
}

function partiesTable(parties: Record<string, any>, chain = false): HTMLTableElement {
  const rows = Object.entries(parties).map(([p, s]) => [
    p,
    t(s.reachable ? "reachable" : "unreachable"),
    ...(chain ? [s.auditChainOk === undefined ? t("notReported") : s.auditChainOk ? `✓ ${t("chainOk")}` : `✗ ${t("chainBroken")}`, s.auditRecords ?? t("notReported")] : []),
    s.poolLevel ?? t("notReported"),
    s.linkUp === undefined ? t("notReported") : t(s.linkUp ? "up" : "down"),
  ]);
  const cols: Key[] = chain ? ["party", "col_status", "chain", "col_records", "poolLevel", "link"] : ["party", "col_status", "poolLevel", "link"];
  return table(cols, rows, chain ? t("partiesChains") : undefined);
}

// ---- start --------------------------------------------------------------------------------------

async function start(): Promise<void> {
  $("lang").addEventListener("click", () => {
    setLang(currentLang() === "en" ? "zh-CN" : "en");
    void (session ? route() : renderSignIn());
  });
  window.addEventListener("hashchange", () => void route());
  if (sessionStorage.getItem(CSRF_KEY)) {
    try {
      session = await api("GET", "/v1/console/session");
    } catch {
      forget();
    }
  }
  await route();
}

void start();
