--- stipple: inline completions from the stipple language server (a masked-diffusion code model).
---
---   require("stipple").setup({ settings = { steps = 16 } })
---
--- Starts `stipple serve` through vim.lsp.config / vim.lsp.enable (Neovim 0.11+). Ghost text comes from
--- vim.lsp.inline_completion on 0.12+, and from this plugin's extmark renderer (stipple.completion) on 0.11.
local config = require("stipple.config")
local language_server = require("stipple.language_server")

local M = {}

local did_setup = false

---@param opts? stipple.Config|table
function M.setup(opts)
  if did_setup then
    -- A second setup() only updates the server settings (the server and keymaps already exist).
    config.set(vim.tbl_deep_extend("force", config.options, opts or {}))
    language_server.push_settings()
    return
  end
  if vim.fn.has("nvim-0.11") ~= 1 then
    vim.notify("stipple needs Neovim 0.11 or newer", vim.log.levels.ERROR)
    return
  end
  did_setup = true
  config.set(opts)
  language_server.start()
  if config.builtin_ghost_text() then
    M.enable_builtin()
  else
    require("stipple.completion").setup()
  end
  require("stipple.commands").setup()
end

---Neovim 0.12+: the built-in inline completion renders, cycles and accepts; only whole-suggestion accept.
function M.enable_builtin()
  local inline = vim.lsp.inline_completion
  inline.enable(true)
  local keys = config.options.keymaps
  if keys.accept then
    vim.keymap.set("i", keys.accept, function()
      if not inline.get() then
        vim.api.nvim_feedkeys(vim.keycode(keys.accept), "in", false)
      end
    end, { desc = "stipple: accept suggestion", silent = true })
  end
end

---Change server settings at run time (sent with workspace/didChangeConfiguration).
---@param settings stipple.ServerSettings
function M.update(settings)
  config.options.settings = vim.tbl_deep_extend("force", config.options.settings, settings)
  language_server.push_settings()
end

return M
