# test_* rules, as `opa test` runs them. They test the helper functions, which read no
# input: regopy crashes on `with input as {...}` over a rule that reads input, so the
# rules over whole plans are tested by the case files (credentials_test.yaml) instead.
package main

import rego.v1

test_prod_prefix if {
	is_production("prod-eu")
	not is_production("staging-prod")
}

test_only_xai_base_url if {
	base_url_ok("https://api.x.ai/v1")
	not base_url_ok("https://api.x.ai/v1/")
	not base_url_ok("https://evil.example/v1")
}

test_delete_label if {
	delete_allowed("true")
	not delete_allowed(true)
	not delete_allowed(null)
}

test_stores_key if {
	stores_key(["create", "set-default"])
	stores_key(["replace"])
	not stores_key(["update", "delete"])
}
