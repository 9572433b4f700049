-- POST /api/users with a body that breaks the contract: the error path.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"x","email":"not-an-email"}'
