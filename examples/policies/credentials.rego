# House rules for mxsync plans (conftest's conventions: package main; deny fails, warn warns).
# The input is the plan as `mxsync show --format json` prints it.
#   mxsync plan -f mxsync.yaml --policy examples/policies
#   mxsync policy check plan.json --policy examples/policies
#   mxsync policy test examples/policies
#
# Each rule iterates input.resource_changes itself and passes only scalars to functions:
# rego-cpp is many times slower when whole change objects go into a helper set or a
# function argument, which matters on a plan of a thousand orgs.
package main

import rego.v1

allowed_base_url := "https://api.x.ai/v1"

# A delete needs the label allow-delete: "true" on the credential.
deny contains msg if {
	some rc in input.resource_changes
	rc.type == "xai_credential"
	"delete" in rc.mxsync_actions
	not delete_allowed(object.get(rc.change.before, ["labels", "allow-delete"], null))
	msg := sprintf("%s: deleting needs the label allow-delete: \"true\" on the credential", [rc.address])
}

delete_allowed(label) if label == "true"

# Keys only for xAI's own API (an unset base_url is ModuleX's default, which is it).
deny contains msg if {
	some rc in input.resource_changes
	rc.type == "xai_credential"
	url := rc.change.after.base_url
	url != null
	not base_url_ok(url)
	msg := sprintf("%s: base_url %s is not %s", [rc.address, url, allowed_base_url])
}

base_url_ok(url) if url == allowed_base_url

# Production orgs get minted keys only: no key pasted from an env var or a file.
deny contains msg if {
	some rc in input.resource_changes
	rc.type == "xai_credential"
	is_production(rc.org)
	stores_key(rc.mxsync_actions)
	rc.change.key_source != null
	msg := sprintf("%s: keys in production orgs must be minted (mint:), not read from %s", [rc.address, source(rc.change.key_source.env, rc.change.key_source.file)])
}

is_production(org) if startswith(org, "prod-")

# A key is stored by a create or a replace.
stores_key(actions) if {
	some action in actions
	action in {"create", "replace"}
}

source(env, _) := sprintf("env %s", [env]) if env != null

source(env, file) := sprintf("file %s", [file]) if env == null

# No key stored untested (`test: false` in the manifest, or --skip-tests).
deny contains msg if {
	some rc in input.resource_changes
	rc.type == "xai_credential"
	rc.change.key_source != null
	rc.change.test_first == false
	stores_key(rc.mxsync_actions)
	msg := sprintf("%s: the key would be stored without ModuleX's test call (test: false)", [rc.address])
}

# Not a failure, but worth a look in review: a credential becomes the org's default.
warn contains msg if {
	some rc in input.resource_changes
	rc.type == "xai_credential"
	rc.change.after.is_default == true
	object.get(rc.change, ["before", "is_default"], false) != true
	msg := sprintf("%s: becomes the org's default credential", [rc.address])
}
