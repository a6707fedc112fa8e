// The staff app's navigation: one bar on every staff page, showing only the pages the user's roles
// open. The roles mirror the server's (staff/accounts.py Session.has): admin opens everything, and a
// supervisor also has the agent and quality pages.

const PAGES = [
  { id: "agent", href: "/agent", role: "agent", zh: "工作台", en: "Workspace" },
  { id: "kb", href: "/kb", role: "editor", zh: "知识库", en: "Knowledge base" },
  { id: "complaints", href: "/agent/complaints", role: "agent", zh: "投诉", en: "Complaints" },
  { id: "quality", href: "/agent/quality", role: ["agent", "quality"], zh: "质检", en: "Quality" },
  { id: "reports", href: "/reports", role: "supervisor", zh: "报表", en: "Reports" },
  { id: "settings", href: "/settings", role: "supervisor", zh: "设置", en: "Settings" },
  { id: "audit", href: "/admin/audit", role: "admin", zh: "审计", en: "Audit" },
];

/** Whether ``roles`` hold ``role`` (one name or any of a list), as the server decides it. */
export function holds(roles, role) {
  if (Array.isArray(role)) return role.some((r) => holds(roles, r));
  const implied = (role === "agent" || role === "quality") && roles.includes("supervisor");
  return roles.includes(role) || roles.includes("admin") || implied;
}

/** The first page the user may open (where a login lands someone who has no business on this one). */
export function home(roles) {
  const page = PAGES.find((p) => holds(roles, p.role));
  return page ? page.href : null;
}

/** Fill ``nav`` with links to the pages ``roles`` open, the current one marked for screen readers. */
export function renderNav(nav, roles, lang) {
  if (!nav) return;
  nav.setAttribute("aria-label", lang === "en" ? "Staff pages" : "员工页面");
  nav.replaceChildren(...PAGES.filter((p) => holds(roles, p.role)).map((p) => {
    const link = document.createElement("a");
    link.id = `nav-${p.id}`;
    link.href = p.href;
    link.textContent = lang === "en" ? p.en : p.zh;
    if (location.pathname === p.href) link.setAttribute("aria-current", "page");
    return link;
  }));
}
