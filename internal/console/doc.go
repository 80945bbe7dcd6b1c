// Package console is the analyst console that serve mounts at "/": staff sign in with a password
// (argon2id, lockout after repeated failures) and work the alert queue, the account timeline and the
// campaign chart in server-rendered HTML. Browser routes live here, apart from the JSON API: sessions
// are server-side behind a Secure, HttpOnly, SameSite=Strict cookie, every state-changing form carries
// a per-session CSRF token, and every page is sent with a strict Content-Security-Policy. Templates and
// assets are embedded; charts are SVG drawn on the server. The data the console reads and changes is
// declared as small interfaces in data.go, which internal/app implements over the store, the engine
// and casework.
package console
