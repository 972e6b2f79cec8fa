"""Keys that no one ever holds: minted through xAI's Management API and handed straight to ModuleX.

`names` (how a minted key's name marks owner, org, entry and attempt) and `state`
(the live view of a team's keys) are pure; `plan` decides, `live` reads, `apply`
carries out, `audit` finds what is out of line. Only `live` and `apply` do I/O.
`plan` and `apply` see the planner and the executor only through `mxsync.kinds`
(`PlanContext`, `ApplyContext`); `audit` brings its own checks for the audit flow to
register.
"""
