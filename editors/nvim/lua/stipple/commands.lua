--- stipple.commands: user commands. :StippleStatus, :StippleLog, :StippleSuggest, :StippleDismiss, and the
--- edit-selection actions on a visual range (:'<,'>StippleRegenerate / StippleRepair / StippleRewrite {instruction}),
--- which call workspace/executeCommand only when the server advertises them.
local language_server = require("stipple.language_server")

local M = {}

---@class stipple.EditAction
---@field name string            user command
---@field server_command string  workspace/executeCommand command
---@field instruction? boolean   takes an instruction (the command's arguments, or a prompt)

---@type stipple.EditAction[]
M.edit_actions = {
  { name = "StippleRegenerate", server_command = "stipple.regenerate" },
  { name = "StippleRepair", server_command = "stipple.repair" },
  { name = "StippleRewrite", server_command = "stipple.rewrite", instruction = true },
}

---@param action stipple.EditAction
---@param args vim.api.keyset.create_user_command.command_args
function M.run_edit(action, args)
  local bufnr = vim.api.nvim_get_current_buf()
  if not vim.tbl_contains(language_server.server_commands(bufnr), action.server_command) then
    vim.notify(("stipple: %s is not available yet (the server does not offer %s)"):format(action.name,
      action.server_command), vim.log.levels.INFO)
    return
  end
  local client = assert(language_server.client(bufnr))
  local last = vim.api.nvim_buf_get_lines(bufnr, args.line2 - 1, args.line2, false)[1] or ""
  local range = { start = { line = args.line1 - 1, character = 0 },
                  ["end"] = { line = args.line2 - 1, character = vim.str_utfindex(last, client.offset_encoding) } }
  local argument = { uri = vim.uri_from_bufnr(bufnr), range = range }
  if action.instruction then
    argument.instruction = args.args ~= "" and args.args or vim.fn.input("stipple: how should it change? ")
    if argument.instruction == "" then
      return
    end
  end
  -- The server applies the result with workspace/applyEdit (one undoable change).
  language_server.execute(action.server_command, { argument }, bufnr, function(err)
    if err then
      vim.notify("stipple: " .. action.name .. " failed: " .. err.message, vim.log.levels.ERROR)
    end
  end)
end

function M.status()
  local sent = language_server.execute("stipple.status", {}, nil, function(err, result)
    if err then
      vim.notify("stipple.status failed: " .. err.message, vim.log.levels.ERROR)
      return
    end
    local ok, completion = pcall(require, "stipple.completion")
    local lines = { vim.inspect(result) }
    if ok and completion.stats then
      lines[#lines + 1] = "plugin: " .. vim.inspect(completion.stats)
    end
    vim.notify(table.concat(lines, "\n"), vim.log.levels.INFO)
  end)
  if not sent then
    vim.notify("stipple: the server is not attached to this buffer", vim.log.levels.WARN)
  end
end

function M.setup()
  local create = vim.api.nvim_create_user_command
  create("StippleStatus", M.status, { desc = "stipple: model, settings and counters" })
  create("StippleLog", function()
    vim.cmd.tabnew(vim.lsp.log.get_filename())
  end, { desc = "stipple: open the LSP log (the server's stderr is logged there)" })
  create("StippleSuggest", function()
    require("stipple.completion").request()
  end, { desc = "stipple: ask for a suggestion at the cursor (0.11 renderer)" })
  create("StippleDismiss", function()
    require("stipple.completion").dismiss()
  end, { desc = "stipple: hide the suggestion" })
  for _, action in ipairs(M.edit_actions) do
    create(action.name, function(args)
      M.run_edit(action, args)
    end, { range = true, nargs = action.instruction and "?" or 0, desc = "stipple: " .. action.server_command })
  end
end

return M
