"""The page works under its Content-Security-Policy: the header is sent and a whole run violates nothing.

Chromium reports a violation during loading as a console error (page.problems); one during the run also
fires a securitypolicyviolation event, collected here.
"""
from test_page import PROMPT, open_page, run_and_wait


def test_a_run_under_the_pages_policy_violates_nothing(page):
    policy = page.request.get(f"{page.base_url}/").headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'none'" in policy
    open_page(page)
    page.evaluate("""() => {
        window.__violations = [];
        document.addEventListener("securitypolicyviolation",
            (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    }""")
    page.fill("#prompt-input", PROMPT)
    run_and_wait(page, lambda: page.click("#prompt-form button[type=submit]"))
    assert page.evaluate("() => window.__violations") == []
    assert page.problems == []
