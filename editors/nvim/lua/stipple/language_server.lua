--- stipple.language_server: finds `stipple serve`, configures it with vim.lsp.config and enables it.
local config = require("stipple.config")

local M = {}

M.name = "stipple"

---This file is editors/nvim/lua/stipple/language_server.lua inside the stipple repository.
---@return string
local function plugin_repo()
  local source = debug.getinfo(1, "S").source:sub(2)
  return vim.fn.fnamemodify(source, ":p:h:h:h:h:h")
end

---The server command: the configured one, else .venv/bin/stipple under the working directory or the plugin's
---repository, else `stipple` on PATH.
---@return string[]
function M.command()
  if config.options.cmd then
    return config.options.cmd
  end
  local venv_bin = vim.fn.has("win32") == 1 and { ".venv", "Scripts", "stipple.exe" } or { ".venv", "bin", "stipple" }
  for _, root in ipairs({ vim.fn.getcwd(), plugin_repo() }) do
    local candidate = vim.fs.joinpath(root, unpack(venv_bin))
    if vim.fn.executable(candidate) == 1 then
      return { candidate, "serve" }
    end
  end
  return { "stipple", "serve" }
end

function M.start()
  local payload = config.server_payload()
  vim.lsp.config(M.name, {
    cmd = M.command(),
    filetypes = config.options.filetypes,
    root_markers = config.options.root_markers,
    init_options = payload,
    settings = payload,
  })
  vim.lsp.enable(M.name)
end

---@param bufnr? integer
---@return vim.lsp.Client|nil
function M.client(bufnr)
  return vim.lsp.get_clients({ name = M.name, bufnr = bufnr })[1]
end

---Send the current settings to every running stipple server.
function M.push_settings()
  local payload = config.server_payload()
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    client.settings = payload
    client:notify("workspace/didChangeConfiguration", { settings = payload })
  end
end

---workspace/executeCommand on the server attached to bufnr.
---@param command string
---@param arguments? any[]
---@param bufnr? integer
---@param on_result? fun(err: lsp.ResponseError|nil, result: any)
---@return boolean sent
function M.execute(command, arguments, bufnr, on_result)
  local client = M.client(bufnr)
  if not client then
    return false
  end
  client:request("workspace/executeCommand", { command = command, arguments = arguments or {} }, on_result or function() end, bufnr)
  return true
end

---The commands the server advertises (executeCommandProvider.commands).
---@param bufnr? integer
---@return string[]
function M.server_commands(bufnr)
  local client = M.client(bufnr)
  local provider = client and client.server_capabilities and client.server_capabilities.executeCommandProvider
  return provider and provider.commands or {}
end

return M
