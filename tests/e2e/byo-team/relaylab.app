# How the lab runs this team's app and talks to it (docs/byo-app.md). The command starts
# with NAME=VALUE words, as a team's often does.
cmd           = TEAM_MODE=lab API_TOKEN=team-secret NODE_PATH=../node/node_modules node server.js
ready         = /ready
protocol      = plain
ws_path       = /live
products_path = /api/v1/items
header        = Authorization: Bearer team-secret
body          = {"item":{"title":"item #{{n}}","meta":{"requestId":"{{req_id}}"}}}
event         = item.created
id_path       = item.meta.requestId
