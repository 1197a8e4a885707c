--- stipple.config: the options of require("stipple").setup(), their defaults, and the server settings payload.
local M = {}

---Settings the server reads from initializationOptions and workspace/didChangeConfiguration
---(lsp_server/settings.py documents each; unset fields keep the server's defaults).
---@class stipple.ServerSettings
---@field model? string         model directory or a shipped model's name; nil: the embedded default
---@field device? string        "auto" | "cpu" | "cuda" | "cuda:N"
---@field dtype? "auto"|"float32"|"bfloat16"|"float16" "auto": bfloat16 on a GPU or a CPU with native bf16
---@field threads? integer      torch CPU threads
---@field steps? integer        denoising steps K per completion, at most (default 32)
---@field blockLength? integer  semi-autoregressive blocks of this many slots, left to right (default 1)
---@field strategy? "confidence"|"margin"|"entropy"|"threshold" slots committed per step (default "confidence")
---@field threshold? number     tau of the "threshold" strategy (default 0.9)
---@field reuseContext? boolean reuse the buffer's context from its previous request (default true)
---@field completer? "diffusion"|"ar-fim"|"ar-prefix" the autoregressive baselines through the same server
---@field maxSpanTokens? integer longest completion, in tokens (default 64)
---@field workspaceContext? boolean other workspace files' definitions before the prefix (default true)
---@field workspaceBudgetShare? number share of maxPrefixTokens workspace context may take (default 0.25)
---@field workspaceExclude? string[] extra gitignore-style globs never indexed
---@field backend? "local"|"remote" the engine in the server, or a `stipple deploy` deployment (default "local")
---@field remoteUrl? string     the deployment's URL for backend "remote" (default "http://127.0.0.1:8000")
---@field languages? table<string, boolean> per-language enable, e.g. { go = false }
---@field debounceMs? integer   server-side wait before the model starts (default 30)
---@field logLevel? "debug"|"info"|"warning"|"error"

---Insert-mode keymaps of the ghost text (false disables one).
---@class stipple.Keymaps
---@field accept string|false       accept the whole suggestion (falls back to the key itself when none is shown)
---@field accept_word string|false  accept the next word
---@field accept_line string|false  accept up to the end of the suggestion's current line
---@field dismiss string|false      hide the suggestion (reported to the server as rejected)

---@class stipple.Config
---@field cmd? string[]             server command; nil: the project's .venv/bin/stipple, else `stipple` on PATH
---@field filetypes string[]        buffers the server attaches to
---@field root_markers string[]     how the workspace root is found
---@field settings stipple.ServerSettings
---@field ghost_text "auto"|"builtin"|"extmark" "auto": vim.lsp.inline_completion on 0.12+, extmarks on 0.11
---@field debounce_ms integer       extmark renderer: wait after the last keystroke before asking
---@field auto_trigger boolean      extmark renderer: ask while typing (else only with :StippleSuggest)
---@field keymaps stipple.Keymaps
---@field hl_group string           highlight of the ghost text (linked to Comment by default)

---@type stipple.Config
M.defaults = {
  cmd = nil,
  filetypes = { "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "rust", "go" },
  root_markers = { "pyproject.toml", "package.json", "Cargo.toml", "go.mod", ".git" },
  settings = {},
  ghost_text = "auto",
  debounce_ms = 75,
  auto_trigger = true,
  keymaps = { accept = "<Tab>", accept_word = "<M-Right>", accept_line = "<M-Down>", dismiss = "<C-]>" },
  hl_group = "StippleGhostText",
}

---@type stipple.Config
M.options = vim.deepcopy(M.defaults)

---@param opts? stipple.Config|table
---@return stipple.Config
function M.set(opts)
  M.options = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  vim.validate("filetypes", M.options.filetypes, "table")
  vim.validate("settings", M.options.settings, "table")
  vim.validate("debounce_ms", M.options.debounce_ms, "number")
  vim.validate("ghost_text", M.options.ghost_text, function(v)
    return v == "auto" or v == "builtin" or v == "extmark"
  end, false, '"auto", "builtin" or "extmark"')
  return M.options
end

---Whether Neovim's own inline completion (0.12+) renders the ghost text.
---@return boolean
function M.builtin_ghost_text()
  local has = vim.lsp.inline_completion ~= nil
  if M.options.ghost_text == "builtin" and not has then
    vim.notify("stipple: vim.lsp.inline_completion needs Neovim 0.12; using extmarks", vim.log.levels.WARN)
  end
  return has and M.options.ghost_text ~= "extmark"
end

---The payload of initializationOptions and didChangeConfiguration's settings.
---@return { stipple: stipple.ServerSettings }
function M.server_payload()
  return { stipple = vim.deepcopy(M.options.settings) }
end

return M
