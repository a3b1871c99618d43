package web

import "os"

// envLocale is the process's language setting (系统语言编码).
func envLocale() string {
	for _, k := range []string{"LC_ALL", "LANG"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "C"
}
