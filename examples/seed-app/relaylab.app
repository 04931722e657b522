# How relaylab's lab runs this app and talks to it (docs/byo-app.md). A scenario says
# `app = examples/seed-app` (or chaos/run --set app=examples/seed-app) and gets all of this;
# its own settings win.
cmd       = node server.js            # run in this directory; exec'd, faults signal it
image     = relaylab/seed-app:dev     # kind: built from ./Dockerfile (load-images --seed-app)
ready     = /healthz                  # 200 once MongoDB answered and the index exists
protocol  = socketio                  # clients: socket.io-client's protocol
transport = websocket                 # fakeapp's rows compare websockets; the browser's
                                      # polling,websocket is embedded-socketio-*'s story
event     = new_product
id_path   = req_id
# products_path = /products and fakeapp's body: the seed app takes the same API
