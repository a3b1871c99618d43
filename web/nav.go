package web

import (
	"strings"

	sb "switchboard"
)

// navMenu is one top-level menu of the left navigation (菜单导航).
type navMenu struct {
	Label string
	Open  bool
	Items []navItem
}

type navItem struct {
	Label  string
	Href   string
	Active bool
}

// pageRoutes maps the permission of each built page to its address. Menus
// and items appear only when their page exists and the actor holds its
// permission: modules not built yet are hidden, never dead links.
var pageRoutes = map[string]string{
	"setup.guide":     "/setup",
	"org.tenants":     "/tenants",
	"org.roles":       "/roles",
	"org.departments": "/departments",
	"org.users":       "/users",
	"org.settings":    "/settings",
	"org.audit":       "/audit",
	"pbx.extensions":  "/extensions",
	"pbx.trunks":      "/trunks",
	"pbx.inbound":     "/routes/inbound",
	"pbx.outbound":    "/routes/outbound",
	"pbx.permissions": "/permissions",
	"pbx.speed_dial":  "/speed-dials",
	"pbx.apply":       "/pbx/apply",
	"pbx.status":      "/trunks/status",
	"calls.records":   "/cdrs",
	"calls.live":      "/live",
	"system.status":   "/status",
	"system.bans":     "/bans",
	"calls.extract":   "/extract",
}

func buildNav(l Localizer, a *sb.Actor, path string) []navMenu {
	var menus []navMenu
	var cur *navMenu
	for _, p := range sb.Catalogue {
		if !strings.Contains(p.Key, ".") {
			menus = append(menus, navMenu{Label: permLabel(l, p)})
			cur = &menus[len(menus)-1]
			continue
		}
		href, built := pageRoutes[p.Key]
		if !built || !a.Can(p.Key) {
			continue
		}
		active := path == href || strings.HasPrefix(path, href+"/") && !isPageRoute(path) // /trunks/status is its own item
		cur.Items = append(cur.Items, navItem{Label: permLabel(l, p), Href: href, Active: active})
		if active {
			cur.Open = true
		}
	}
	// The password page belongs to 系统维护 but has no catalogue entry of its
	// own: add it there.
	out := menus[:0]
	for _, m := range menus {
		if m.Label == permLabel(l, sb.Permission{Zh: "系统维护", En: "System"}) {
			m.Items = append(m.Items, navItem{Label: l.T("password.title"), Href: "/password", Active: path == "/password"})
			m.Open = m.Open || path == "/password"
		}
		if len(m.Items) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// isPageRoute reports whether path is the address of a menu item.
func isPageRoute(path string) bool {
	for _, href := range pageRoutes {
		if href == path {
			return true
		}
	}
	return false
}
