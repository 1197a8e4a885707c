-- An in-process fake of `stipple serve` for the Neovim plugin tests (vim.lsp.start accepts a function as cmd).
-- Every inline completion request is answered after `fake.delay_ms` with `fake.text`, even when cancelled, so
-- the plugin's own staleness guard is what keeps old suggestions off the screen.
local fake = { delay_ms = 0, text = "FAKE", commands = { "stipple.status", "stipple.accept", "stipple.reject" },
               requests = {}, notifications = {}, init_options = nil }
_G.stipple_fake = fake

function fake.cmd(dispatchers)
  local closing, next_id = false, 0
  local server = {}
  function server.request(method, params, callback)
    next_id = next_id + 1
    table.insert(fake.requests, { method = method, params = params })
    if method == "initialize" then
      fake.init_options = params.initializationOptions
      callback(nil, { capabilities = { inlineCompletionProvider = true, textDocumentSync = 1,
                                        executeCommandProvider = { commands = fake.commands } } })
    elseif method == "textDocument/inlineCompletion" then
      local text = fake.text
      vim.defer_fn(function()
        callback(nil, { items = { { insertText = text, command = { title = "accepted", command = "stipple.accept",
                                                                   arguments = { "r" .. next_id } } } } })
      end, fake.delay_ms)
    elseif method == "workspace/executeCommand" and params.command == "stipple.status" then
      callback(nil, { ready = true, model = "fake", error = vim.NIL })
    else
      callback(nil, vim.NIL)
    end
    return true, next_id
  end
  function server.notify(method, params)
    table.insert(fake.notifications, { method = method, params = params })
    if method == "exit" then
      dispatchers.on_exit(0, 15)
    end
    return true
  end
  function server.is_closing()
    return closing
  end
  function server.terminate()
    closing = true
  end
  return server
end

---The requests and notifications of one method, in order.
function fake.sent(method)
  local found = {}
  for _, message in ipairs(vim.list_extend(vim.list_extend({}, fake.requests), fake.notifications)) do
    if message.method == method then
      table.insert(found, message.params)
    end
  end
  return found
end

return fake
