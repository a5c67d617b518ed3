-- wrk script: POST a form body with a Basic authorization header.
-- Set from the command line: wrk ... -s post.lua <url> -- "<body>" "<basic credentials>"
function init(args)
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = "Basic " .. args[2]
end
