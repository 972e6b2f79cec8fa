# House rules for mxsync plans (conftest's conventions: package main; deny fails, warn warns).
# The input is the plan as `mxsync show --format json` prints it.
#   mxsync plan -f mxsync.yaml --policy examples/policies
#   mxsync policy check plan.json --policy examples/policies
#   mxsync policy test examples/policies
package main

import rego.v1

allowed_base_url := "https://api.x.ai/v1"

# Rules iterate input.resource_changes themselves and test it with functions: a helper
# set of whole changes (`credentials contains rc`) makes rego-cpp compare big objects and
# turns a 1,000-org plan from milliseconds into minutes.
credential(rc) if rc.type == "xai_credential"

# A key being stored: created or replaced.
stores_key(rc) if {
	credential(rc)
	rc.change.after != null
	some action in rc.mxsync_actions
	action in {"create", "replace"}
}

# A delete needs the label allow-delete: "true" on the credential.
deny contains msg if {
	some rc in input.resource_changes
	credential(rc)
	"delete" in rc.mxsync_actions
	not delete_allowed(rc.change.before)
	msg := sprintf("%s: deleting needs the label allow-delete: \"true\" on the credential", [rc.address])
}

delete_allowed(before) if before.labels["allow-delete"] == "true"

# Keys only for xAI's own API (an unset base_url is ModuleX's default, which is it).
deny contains msg if {
	some rc in input.resource_changes
	credential(rc)
	url := rc.change.after.base_url
	url != null
	not base_url_ok(url)
	msg := sprintf("%s: base_url %s is not %s", [rc.address, url, allowed_base_url])
}

base_url_ok(url) if url == allowed_base_url

# Production orgs get minted keys only: no key pasted from an env var or a file.
deny contains msg if {
	some rc in input.resource_changes
	stores_key(rc)
	is_production(rc.org)
	rc.change.key_source != null
	msg := sprintf("%s: keys in production orgs must be minted (mint:), not read from %s", [rc.address, source(rc.change.key_source)])
}

is_production(org) if startswith(org, "prod-")

source(ks) := sprintf("env %s", [ks.env]) if ks.env != null

source(ks) := sprintf("file %s", [ks.file]) if ks.env == null

# No key stored untested (`test: false` in the manifest, or --skip-tests).
deny contains msg if {
	some rc in input.resource_changes
	stores_key(rc)
	rc.change.key_source != null
	rc.change.test_first == false
	msg := sprintf("%s: the key would be stored without ModuleX's test call (test: false)", [rc.address])
}

# Not a failure, but worth a look in review: a credential becomes the org's default.
warn contains msg if {
	some rc in input.resource_changes
	credential(rc)
	rc.change.after.is_default == true
	not was_default(rc)
	msg := sprintf("%s: becomes the org's default credential", [rc.address])
}

was_default(rc) if rc.change.before.is_default == true
