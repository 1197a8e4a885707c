--- stipple.completion: ghost text on Neovim 0.11, from textDocument/inlineCompletion, drawn with extmarks.
--- One suggestion per buffer; a debounce timer; typing cancels the request in flight, and a reply for an older
--- buffer state or cursor is dropped, so a stale suggestion is never shown. (On 0.12+ init.lua uses
--- vim.lsp.inline_completion instead.)
local config = require("stipple.config")
local language_server = require("stipple.language_server")

local M = {}

M.ns = vim.api.nvim_create_namespace("stipple.ghost_text")

---@class stipple.Suggestion
---@field text string        what accepting inserts at the cursor
---@field row integer        0-based row of the cursor it belongs to
---@field col integer        0-based byte column of that cursor
---@field tick integer       b:changedtick it was made for
---@field command? lsp.Command the item's command (stipple.accept), run on a whole accept
---@field request_id? string the engine's request id (for stipple.reject)

---@class stipple.BufferState
---@field timer? uv.uv_timer_t
---@field request? { client: vim.lsp.Client, id: integer }
---@field suggestion? stipple.Suggestion
---@field extmark? integer
---@field own_tick? integer  changedtick after our own partial accept (not the user typing)
---@field waiting? boolean  the debounce timer is running
---@field generation integer bumped on every keystroke; replies from an older generation are dropped

---@type table<integer, stipple.BufferState>
local buffers = {}

---Counters the tests and :StippleStatus read.
M.stats = { requested = 0, cancelled = 0, shown = 0, dropped = 0, accepted = 0, dismissed = 0 }

---@param bufnr integer
---@return stipple.BufferState
local function state(bufnr)
  buffers[bufnr] = buffers[bufnr] or { generation = 0 }
  return buffers[bufnr]
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function clear_mark(bufnr)
  local s = state(bufnr)
  if s.extmark then
    pcall(vim.api.nvim_buf_del_extmark, bufnr, M.ns, s.extmark)
    s.extmark = nil
  end
end

---Cancel the request in flight and the pending timer; hide the suggestion.
---@param bufnr integer
function M.clear(bufnr)
  local s = state(bufnr)
  s.generation = s.generation + 1
  if s.timer then
    s.timer:stop()
  end
  s.waiting = false
  if s.request then
    M.stats.cancelled = M.stats.cancelled + 1
    pcall(s.request.client.cancel_request, s.request.client, s.request.id)
    s.request = nil
  end
  s.suggestion = nil
  clear_mark(bufnr)
end

---@param bufnr integer
local function render(bufnr)
  clear_mark(bufnr)
  local s = state(bufnr)
  local suggestion = s.suggestion
  if not suggestion or suggestion.text == "" then
    return
  end
  local lines = vim.split(suggestion.text, "\n", { plain = true })
  local hl = config.options.hl_group
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], hl } }
  end
  s.extmark = vim.api.nvim_buf_set_extmark(bufnr, M.ns, suggestion.row, suggestion.col, {
    virt_text = lines[1] ~= "" and { { lines[1], hl } } or nil,
    virt_text_pos = "inline",
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = "combine",
  })
end

---The text of an inline completion item to insert at the cursor, or nil when the item does not fit the cursor.
---@param item lsp.InlineCompletionItem
---@param row integer
---@param col integer
---@param bufnr integer
---@param encoding string
---@return string|nil
local function item_text(item, row, col, bufnr, encoding)
  local text = type(item.insertText) == "table" and item.insertText.value or item.insertText
  if type(text) ~= "string" then
    return nil
  end
  if item.range then
    -- The range may start before the cursor (the typed part of the word); show only what follows the cursor.
    local start, finish = item.range.start, item.range["end"]
    if start.line ~= row or finish.line ~= row then
      return nil
    end
    local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
    local start_col = vim.str_byteindex(line, encoding, start.character, false)
    local typed = line:sub(start_col + 1, col)
    if start_col > col or text:sub(1, #typed) ~= typed then
      return nil
    end
    text = text:sub(#typed + 1)
  end
  return text
end

---Show a suggestion as ghost text (replacing the current one).
---@param bufnr integer
---@param suggestion stipple.Suggestion
function M.show(bufnr, suggestion)
  state(bufnr).suggestion = suggestion
  M.stats.shown = M.stats.shown + 1
  render(bufnr)
end

---Ask the server for a suggestion at the cursor now.
---@param bufnr? integer
function M.request(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = language_server.client(bufnr)
  if not client or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  M.clear(bufnr)
  local s = state(bufnr)
  local generation, tick = s.generation, vim.b[bufnr].changedtick
  local row, col = cursor()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  ---@diagnostic disable-next-line: inject-field
  params.context = { triggerKind = 2 } -- Automatic
  M.stats.requested = M.stats.requested + 1
  local ok, id = client:request("textDocument/inlineCompletion", params, function(err, result)
    if s.generation ~= generation then
      return -- cancelled meanwhile; the reply is about an older buffer
    end
    s.request = nil
    local now_row, now_col = cursor()
    if err or not result or vim.b[bufnr].changedtick ~= tick or now_row ~= row or now_col ~= col
        or not vim.api.nvim_get_mode().mode:match("^i") or vim.api.nvim_get_current_buf() ~= bufnr then
      M.stats.dropped = M.stats.dropped + 1
      return
    end
    local items = result.items or result
    local item = items[1]
    local text = item and item_text(item, row, col, bufnr, client.offset_encoding)
    if not text or text == "" then
      return
    end
    local arguments = item.command and item.command.arguments
    M.show(bufnr, { text = text, row = row, col = col, tick = tick, command = item.command,
                    request_id = arguments and arguments[1] or nil })
  end, bufnr)
  if ok then
    s.request = { client = client, id = id }
  end
end

---Restart the debounce timer: a request goes out when typing pauses.
---@param bufnr integer
function M.schedule(bufnr)
  local s = state(bufnr)
  M.clear(bufnr)
  s.timer = s.timer or vim.uv.new_timer()
  s.waiting = true
  s.timer:start(config.options.debounce_ms, 0, vim.schedule_wrap(function()
    s.waiting = false
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_get_mode().mode:match("^i") then
      M.request(bufnr)
    end
  end))
end

---Whether a request is waiting for its debounce or its reply.
---@param bufnr? integer
---@return boolean
function M.pending(bufnr)
  local s = state(bufnr or vim.api.nvim_get_current_buf())
  return s.request ~= nil or s.waiting == true
end

---@param bufnr? integer
---@return stipple.Suggestion|nil
function M.suggestion(bufnr)
  return state(bufnr or vim.api.nvim_get_current_buf()).suggestion
end

---@param text string
---@param kind "all"|"word"|"line"
---@return string
local function take(text, kind)
  if kind == "word" then
    return text:match("^%s*[%w_]+") or text:match("^%s*[^%w_%s]+") or text:match("^%s+") or text
  elseif kind == "line" then
    local newline = text:find("\n", 1, true)
    if newline == 1 then
      return text:match("^\n[^\n]*") -- at the end of a line: take the next line whole
    end
    return newline and text:sub(1, newline - 1) or text
  end
  return text
end

---Insert the suggestion (or its next word / line) at the cursor. False when none is shown.
---@param kind? "all"|"word"|"line"
---@return boolean
function M.accept(kind)
  kind = kind or "all"
  local bufnr = vim.api.nvim_get_current_buf()
  local s = state(bufnr)
  local suggestion = s.suggestion
  if not suggestion then
    return false
  end
  local part = take(suggestion.text, kind)
  local rest = suggestion.text:sub(#part + 1)
  local lines = vim.split(part, "\n", { plain = true })
  M.clear(bufnr)
  vim.api.nvim_buf_set_text(bufnr, suggestion.row, suggestion.col, suggestion.row, suggestion.col, lines)
  local end_row = suggestion.row + #lines - 1
  local end_col = (#lines == 1 and suggestion.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { end_row + 1, end_col })
  if rest ~= "" then
    s.suggestion = vim.tbl_extend("force", suggestion, { text = rest, row = end_row, col = end_col,
                                                         tick = vim.b[bufnr].changedtick })
    s.own_tick = vim.b[bufnr].changedtick
    render(bufnr)
  else
    M.stats.accepted = M.stats.accepted + 1
    if suggestion.command then
      language_server.execute(suggestion.command.command, suggestion.command.arguments, bufnr)
    end
  end
  return true
end

---Hide the suggestion and tell the server it was rejected. False when none is shown.
---@return boolean
function M.dismiss()
  local bufnr = vim.api.nvim_get_current_buf()
  local suggestion = state(bufnr).suggestion
  M.clear(bufnr)
  if not suggestion then
    return false
  end
  M.stats.dismissed = M.stats.dismissed + 1
  language_server.execute("stipple.reject", { suggestion.request_id }, bufnr)
  return true
end

---A text change or cursor move in insert mode: our own partial accept keeps the rest, anything else asks anew.
---@param bufnr integer
local function on_change(bufnr)
  local s = state(bufnr)
  local row, col = cursor()
  local suggestion = s.suggestion
  if suggestion and s.own_tick == vim.b[bufnr].changedtick and suggestion.row == row and suggestion.col == col then
    return
  end
  s.own_tick = nil
  if config.options.auto_trigger then
    M.schedule(bufnr)
  else
    M.clear(bufnr)
  end
end

---Map a key that runs fn when a suggestion is shown and behaves as itself otherwise.
---@param lhs string|false
---@param fn fun(): boolean
---@param desc string
local function map(lhs, fn, desc)
  if not lhs then
    return
  end
  vim.keymap.set("i", lhs, function()
    if not fn() then
      vim.api.nvim_feedkeys(vim.keycode(lhs), "in", false) -- "i": before keys typed after it
    end
  end, { desc = desc, silent = true })
end

function M.setup()
  vim.api.nvim_set_hl(0, "StippleGhostText", { link = "Comment", default = true })
  local group = vim.api.nvim_create_augroup("stipple.completion", { clear = true })
  local filetypes = config.options.filetypes
  local function ours(bufnr)
    return vim.tbl_contains(filetypes, vim.bo[bufnr].filetype)
  end
  vim.api.nvim_create_autocmd({ "InsertEnter", "TextChangedI", "CursorMovedI" }, {
    group = group,
    callback = function(args)
      if ours(args.buf) then
        on_change(args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    callback = function(args)
      M.clear(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("BufWipeout", {
    group = group,
    callback = function(args)
      local s = buffers[args.buf]
      if s and s.timer then
        s.timer:stop()
        s.timer:close()
      end
      buffers[args.buf] = nil
    end,
  })
  local keys = config.options.keymaps
  map(keys.accept, function() return M.accept("all") end, "stipple: accept suggestion")
  map(keys.accept_word, function() return M.accept("word") end, "stipple: accept next word")
  map(keys.accept_line, function() return M.accept("line") end, "stipple: accept next line")
  map(keys.dismiss, M.dismiss, "stipple: dismiss suggestion")
end

return M
