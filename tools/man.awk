# SPDX-License-Identifier: MIT
# man.awk - the manual pages of libcoro, generated from the public header
# (include/coro.h and include/coro/*.h).
#
#   awk -v out=DIR -v version=X.Y.Z -v date=YYYY-MM-DD -f tools/man.awk \
#       include/coro.h include/coro/core.h include/coro/sched.h ...
#
# POSIX awk only (Debian's base mawk runs it; gawk too).  The header is the
# one source: its structure drives the pages, so a call added to it has its
# page at the next build, and nothing here names a call.
#
# The header is several files: include/coro.h, then the files of
# include/coro/ in the order it includes them (cmake/headers.cmake lists
# them so; cmake/man.cmake passes them in that order, which is the order of
# the sections here, of SEE ALSO and of libcoro(7)'s list of pages).  They
# read as one header: from the first file everything, from each later one
# its banner sections only -- what comes before its first banner (its own
# opening comment, guard, includes, extern "C") is that file's, not the
# manual's.  Each file ends as the header did (#ifdef __cplusplus, #endif),
# code this script does not show.
#
#   - The opening comment (Concepts, Threads, ...) and the sections without a
#     call (Types) make libcoro(7), with the Python-to-C table.
#   - Every banner section with CORO_API calls is one page of section 3, a
#     family: the banner's title may end with its name ("Channels   coro_chan(3)"),
#     else the page is named after the section's first call.  Inside a section:
#       /*            an intro comment (a "/*" line alone): the family's text;
#        * ...
#        */
#       /* text */    a comment, then the code up to a blank line or the next
#       code...       comment: one entry -- a call (CORO_API), a type or a macro.
#     Code that opens with #if (the C++ plumbing) is not shown.
#   - Each entry's text is the comment's: plain lines are filled, indented ones
#     kept as they are (lists, tables, code), wrapped to fit 80 columns.
#   - ERRORS lists, for every call, the codes its comment names where it says
#     what the call returns (-EINVAL, CORO_EDONE ...: see returned(); a code
#     the call only records or hands on elsewhere is not listed), and those
#     of what it refers to for its returns ("Same
#     returns as coro_send()", "Errors: as coro_create()", "the errors of
#     coro_fd_read", "forms of coro_fd_read/coro_fd_write ... the same
#     returns"; "or an error above":
#     its family's introduction), or says "none" when its comment says it
#     never fails.
#
# A call that names no code and refers to none says so in its comment
# ("Never fails.", "No error code: NULL if c is NULL."); else the check fails.
# A family's introduction lends its codes only to the calls that refer to it.
#
# Writes DIR/man3/<page>.3, DIR/man7/libcoro.7, DIR/links: lines "name page.3",
# one per call that is not a page's own name and per function-like macro
# (CORO_FOREACH) (CMake makes them symlinks), and
# DIR/calls: lines "call page.3 HOW codes..." for the check
# (cmake/test_man.cmake), HOW being OWN, AS <call>, FAMILY, NEVER_FAILS or
# NO_CODE, and DIR/refs: lines "call codes..." (the codes of its references).

function trim(s) {
  sub(/^[ \t]+/, "", s)
  sub(/[ \t]+$/, "", s)
  return s
}

# Text for roff: backslashes, minus signs, a leading dot or quote.
function esc(s) {
  gsub(/\\/, "\\e", s)
  gsub(/-/, "\\-", s)
  if (s ~ /^[.']/) s = "\\&" s
  return s
}

# Prose: escaped, with calls in bold ("coro_send()").
function prose(s) {
  s = esc(s)
  gsub(/coro_[a-z_0-9]+\(\)/, "\\fB&\\fR", s)
  return s
}

# A macro argument in double quotes.
function q(s) {
  gsub(/"/, "\\(dq", s)
  return "\"" s "\""
}

# Print s (no-fill) wrapped at `width` columns: breaks at the last space
# before the limit, continuation lines indented by `cont` spaces.
function wrapped(s, width, cont, f,    pad, cut, k) {
  pad = sprintf("%" cont "s", "")
  while (length(s) > width) {
    cut = 0
    for (k = width; k > cont + 10; k--)
      if (substr(s, k, 1) == " ") { cut = k; break }
    if (!cut) break
    print esc(substr(s, 1, cut - 1)) > f
    s = substr(s, cut + 1)
    sub(/^ +/, "", s)
    s = pad s
  }
  print esc(s) > f
}

# A block of code (a type, a macro): lines as they are, but a trailing
# comment (which may run on over the next lines) is refilled to 72 columns,
# its continuation lines aligned under its first word.  CORO__SIZE(n), the
# header's C/C++ cast, shows as the cast it is.
function codeblock(code, f,    n, C, k, line, p, pre, com, W, m, w, cur, pad) {
  gsub(/CORO__SIZE\(/, "(size_t)(", code)
  n = split(code, C, "\n")
  for (k = 1; k <= n; k++) {
    line = C[k]
    p = index(line, "/*")
    if (p == 0) {
      match(line, /^ */)
      wrapped(line, 72, RLENGTH + 4, f)
      continue
    }
    pre = substr(line, 1, p - 1)
    com = substr(line, p)
    while (index(com, "*/") == 0 && k < n) com = com " " trim(C[++k])
    pad = sprintf("%" (p + 2 > 40 ? 8 : p + 2) "s", "")
    m = split(com, W, " ")
    cur = pre W[1]
    for (w = 2; w <= m; w++) {
      if (length(cur) + 1 + length(W[w]) > 72 && cur != pad) {
        print esc(cur) > f
        cur = pad W[w]
      } else
        cur = cur " " W[w]
    }
    print esc(cur) > f
  }
}

# A declaration (several header lines, CORO_API dropped) on one line, then
# wrapped after commas, continuation lines aligned after the "(".
function decl(code, f, bold,    s, open, cont, cut, k, line, width) {
  s = code
  gsub(/\n/, " ", s)
  gsub(/CORO_API /, "", s)
  gsub(/  +/, " ", s)
  gsub(/\( /, "(", s)
  s = trim(s)
  width = 72
  open = index(s, "(")
  cont = (open > 0 && open < 36) ? open : 4
  while (length(s) > width) {
    cut = 0
    for (k = width; k > cont; k--)
      if (substr(s, k, 2) == ", ") { cut = k; break }
    if (!cut) break
    line = substr(s, 1, cut)
    print (bold ? ".B " q(line) : esc(line)) > f
    s = sprintf("%" cont "s", "") substr(s, cut + 2)
  }
  print (bold ? ".B " q(s) : esc(s)) > f
}

# Comment text (lines without the comment marks, "" between paragraphs) as
# roff: filled paragraphs, indented blocks kept (no-fill, their common indent
# removed) and wrapped at 72 columns.
function text(t, f,    n, L, k, mode, j, min, ind, line, cont, more, sp) {
  n = split(t, L, "\n")
  mode = "start"
  for (k = 1; k <= n; k++) {
    if (L[k] == "") {
      if (mode == "nf") print ".fi" > f
      if (mode != "start") mode = "gap"
      continue
    }
    if (L[k] ~ /^ /) {
      # an indented block: up to the next blank or plain line
      min = 99
      for (j = k; j <= n && L[j] ~ /^ /; j++) {
        match(L[j], /^ +/)
        if (RLENGTH < min) min = RLENGTH
      }
      if (mode != "start") print ".PP" > f
      print ".nf" > f
      for (; k < j; k++) {
        # a line and the lines indented deeper under it (a list item, a
        # tagged error and its explanation) are one item, refilled
        line = substr(L[k], min + 1)
        match(line, /^ */)
        ind = RLENGTH
        cont = ind + 2
        for (more = 0; k + 1 < j; k++) {
          match(substr(L[k + 1], min + 1), /^ */)
          if (RLENGTH <= ind) break
          if (!more++) cont = RLENGTH
          line = line " " trim(L[k + 1])
        }
        # alone, a tagged line ("-EBUSY    c is RUNNING ...") wraps under its text
        if (!more && (sp = index(substr(line, ind + 1), "  ")) > 0) {
          match(substr(line, ind + sp), /^ +/)
          if (ind + sp - 1 + RLENGTH < 40) cont = ind + sp - 1 + RLENGTH
        }
        wrapped(line, 72, cont, f)
      }
      k--
      print ".fi" > f
      mode = "gap"
      continue
    }
    if (mode == "gap") print ".PP" > f
    mode = "fill"
    print prose(L[k]) > f
  }
}

# The sentences of a comment that say what its call returns, joined by
# newlines: those with "return(s/ed)" followed by what is returned (not
# "clean up and return."), "Errors", "Refused", "Otherwise" or
# "fail(s)" ("Returns 0, or -EINVAL (c NULL)", "Errors: -EINVAL", "Refused,
# nothing changes: -EBUSY ...", "Calls that cannot wait fail ...: -EDEADLK")
# or "comes (straight) back", those in which a code opens the sentence or a
# clause after a ';' ("Free.  -EBUSY while waited on; -EINVAL (c NULL)",
# "Wake every waiter (0 even if none); -EINVAL") and those that offer one as
# an alternative to a value ("The state of c, or -EINVAL if c is NULL").
# A code named elsewhere is one the call records, stores or hands on
# ("err >= 0 records -EINVAL", "reports -EPIPE in its `result`"), not one it
# returns.  Sentences end at a full stop before a space or a line's end, and
# at a blank line.
function returned(t,    s, n, S, k, out, x) {
  s = t
  gsub(/\n\n/, ".\n", s)
  gsub(/\.\n/, ".\001", s)
  gsub(/\. /, ".\001", s)
  n = split(s, S, "\001")
  out = ""
  for (k = 1; k <= n; k++) {
    x = S[k]
    gsub(/\n/, " ", x)
    x = trim(x)
    if (x ~ /(^|[^a-z_])[Rr]eturn(s|ed)?( +[^ .,;:)]|:)/ ||
        x ~ /(^|[^a-z_])([Ee]rrors|[Rr]efused|[Oo]therwise)/ ||
        x ~ /(^|[^a-z_])[Ff]ails?([^a-z_(]|$)/ || x ~ /come(s)? (straight )?back/ ||
        x ~ /(^|; )\(?(-E[A-Z0-9]+|CORO_E[A-Z]+)/ ||
        x ~ /(^|[ (])or (-E[A-Z0-9]+|CORO_E[A-Z]+)/)
      out = out (out == "" ? "" : "\n") x
  }
  return out
}

# The error codes a comment names, in order of first mention, space-separated.
function codes(t,    s, c, seen, out) {
  s = t
  out = ""
  while (match(s, /(-E[A-Z0-9]+|CORO_E[A-Z]+)/)) {
    c = substr(s, RSTART, RLENGTH)
    sub(/^-/, "", c)
    if (index(" " out " ", " " c " ") == 0)
      out = out (out == "" ? "" : " ") c
    s = substr(s, RSTART + RLENGTH)
  }
  return out
}

# The calls a comment refers to for its returns, space-separated: "Same
# returns as coro_send()", "Errors: as coro_create()", "the errors of
# coro_fd_read", "forms of coro_fd_read/
# coro_fd_write ... the same returns"; "@" for its family's introduction
# ("or an error above", "an error (see above)").
function references(t,    s, c, out) {
  s = t
  gsub(/\n/, " ", s)
  out = ""
  while (match(s, /([Rr]eturns|[Ee]rrors:?) (as|of) coro_[a-z_0-9]+/)) {
    c = substr(s, RSTART, RLENGTH)
    sub(/^.* (as|of) /, "", c)
    out = out " " c
    s = substr(s, RSTART + RLENGTH)
  }
  s = t
  gsub(/\n/, " ", s)
  if (s ~ /the same returns/)
    while (match(s, /forms of coro_[a-z_0-9]+(\/coro_[a-z_0-9]+)*/)) {
      c = substr(s, RSTART + 9, RLENGTH - 9)
      gsub(/\//, " ", c)
      out = out " " c
      s = substr(s, RSTART + RLENGTH)
    }
  s = t
  gsub(/\n/, " ", s)
  if (s ~ /an error (above|\(see above\))|errors above/) out = out " @"
  return trim(out)
}

# The words of a, then those of b not in a (space-separated lists).
function union(a, b,    n, B, k, out) {
  out = a
  n = split(b, B, " ")
  for (k = 1; k <= n; k++)
    if (index(" " out " ", " " B[k] " ") == 0) out = out (out == "" ? "" : " ") B[k]
  return out
}

# The codes of the references r (references()) of a comment in section s.
function ref_codes(r, s,    m, R, j, out) {
  m = split(r, R, " ")
  out = ""
  for (j = 1; j <= m; j++) out = out " " (R[j] == "@" ? codes(returned(S_intro[s])) : CODES[R[j]])
  return trim(out)
}

# DIR/refs: lines "call codes...", the codes of what the call's comment
# refers to (references()): its ERRORS entry must list them all, which
# cmake/test_man.cmake checks.
function refs(    f, e, n, C, k, cs) {
  f = out "/refs"
  printf "" > f
  for (e = 1; e <= ne; e++) {
    if (E_calls[e] == "") continue
    cs = ref_codes(references(E_text[e]), E_sec[e])
    n = split(E_calls[e], C, " ")
    for (k = 1; k <= n; k++) print C[k] " " cs > f
  }
  close(f)
}

# A comment's lines, from L[i] to the line that closes it, without the marks;
# sets `next_line` to the line after it.
function comment(i,    t, s, done) {
  t = ""
  done = 0
  for (; i <= N && !done; i++) {
    s = L[i]
    if (index(s, "*/")) {
      done = 1
      sub(/[ ]*\*\/.*$/, "", s)
    }
    sub(/^\/\*/, "", s)
    sub(/^ \*/, "", s)
    sub(/^ /, "", s)
    if (s ~ /^ *$/) s = ""
    t = t (t == "" && s == "" ? "" : "\n") s
  }
  next_line = i
  sub(/^\n+/, "", t)
  sub(/\n+$/, "", t)
  return t
}

function is_banner(i) {
  return L[i] ~ /^\/\* =====+ \*\/$/ && L[i + 2] ~ /^\/\* =====+ \*\/$/
}

# The calls a declaration block declares.
function calls_of(code,    n, C, k, s, out) {
  n = split(code, C, "\n")
  out = ""
  for (k = 1; k <= n; k++) {
    if (C[k] !~ /^CORO_API /) continue
    s = substr(C[k], 1, index(C[k], "(") - 1)
    sub(/^.*[ *]/, "", s)
    out = out (out == "" ? "" : " ") s
  }
  return out
}

# The input as one header (see above): a later file's lines from its first banner on.
FNR == 1 { nfile++; skip = nfile > 1 }
skip && /^\/\* =====+ \*\/$/ { skip = 0 }
!skip { L[++N] = $0; F[N] = FILENAME }

END {
  if (out == "") out = "."
  if (date == "") date = "1970-01-01"
  nsec = 0
  ne = 0
  top = ""
  for (i = 1; i <= N; i++) {
    if (L[i] == "/*" && top == "" && nsec == 0) {
      top = comment(i)
      i = next_line - 1
      continue
    }
    if (is_banner(i)) {
      title = L[i + 1]
      sub(/^\/\* */, "", title)
      sub(/ *\*\/$/, "", title)
      page = ""
      if (match(title, /[a-z_0-9]+\([0-9]\)$/)) {
        page = substr(title, RSTART, RLENGTH)
        sub(/\([0-9]\)$/, "", page)
        title = trim(substr(title, 1, RSTART - 1))
      }
      nsec++
      S_title[nsec] = title
      S_page[nsec] = page
      S_file[nsec] = F[i]
      S_intro[nsec] = ""
      S_first[nsec] = ne + 1
      S_calls[nsec] = ""
      i += 2
      continue
    }
    if (nsec == 0 || L[i] ~ /^[ \t]*$/) continue
    t = ""
    intro = 0
    if (L[i] ~ /^\/\*/) {
      intro = (L[i] == "/*")
      t = comment(i)
      i = next_line
    }
    code = ""
    for (; i <= N && L[i] !~ /^[ \t]*$/ && L[i] !~ /^\/\*/; i++)
      code = code (code == "" ? "" : "\n") L[i]
    i--
    if (intro) S_intro[nsec] = S_intro[nsec] (S_intro[nsec] == "" ? "" : "\n\n") t
    if (code ~ /^#(if|endif)/ || (intro && code == "") || (t == "" && code == "")) continue
    ne++
    E_sec[ne] = nsec
    E_text[ne] = intro ? "" : t
    E_code[ne] = code
    E_calls[ne] = calls_of(code)
    if (E_calls[ne] != "")
      S_calls[nsec] = S_calls[nsec] (S_calls[nsec] == "" ? "" : " ") E_calls[ne]
    # a function-like macro of the API (CORO_FOREACH) is a name of the page too
    if (match(code, /^#define CORO_[A-Z_0-9]+\(/))
      S_macros[nsec] = S_macros[nsec] " " substr(code, 9, RLENGTH - 9)
    S_last[nsec] = ne
  }
  for (s = 1; s <= nsec; s++)
    if (S_calls[s] != "" && S_page[s] == "") {
      split(S_calls[s], P, " ")
      S_page[s] = P[1]
    }

  links = out "/links"
  callsf = out "/calls"
  printf "" > links
  printf "" > callsf
  for (s = 1; s <= nsec; s++)
    if (S_calls[s] != "") family(s)
  close(links)
  close(callsf)
  refs()
  seven()
}

# SEE ALSO: libcoro(7) and every family page but `self`.
function see_also(f, self,    s, n, P, k) {
  n = 0
  if (self != "") P[++n] = "libcoro (7)"
  for (s = 1; s <= nsec; s++)
    if (S_calls[s] != "" && S_page[s] != self) P[++n] = S_page[s] " (3)"
  print ".SH SEE ALSO" > f
  for (k = 1; k <= n; k++) print ".BR " P[k] (k < n ? "," : "") > f
}

# `from` is the header file the page is made of, as the build named it.
function header(f, name, sec, from) {
  sub(/^.*\/include\//, "include/", from)
  print ".\\\" Generated from " from " by tools/man.awk: edit the header, not this page." > f
  print ".TH " toupper(name) " " sec " " q(date) " " q("libcoro " version) " " q("libcoro manual") > f
}

function family(s,    f, e, n, C, k, names, cs, first, how, ref, refl, d) {
  f = out "/man3/" S_page[s] ".3"
  header(f, S_page[s], 3, S_file[s])
  print ".SH NAME" > f
  names = S_calls[s] S_macros[s]
  gsub(/ /, ", ", names)
  d = S_title[s]
  if (substr(d, 2, 1) ~ /[a-z]/) d = tolower(substr(d, 1, 1)) substr(d, 2)
  print esc(names) " \\- " esc(d) > f
  print ".SH LIBRARY" > f
  print "libcoro (\\fI\\-lcoro\\fR, or \\fBpkg\\-config \\-\\-cflags \\-\\-libs coro\\fR)" > f
  print ".SH SYNOPSIS" > f
  print ".nf" > f
  print ".B #include <coro.h>" > f
  for (e = S_first[s]; e <= S_last[s]; e++) {
    if (E_calls[e] == "") continue
    print ".PP" > f
    n = split(E_code[e], C, "\n")
    cs = ""
    for (k = 1; k <= n; k++) {
      if (C[k] ~ /^CORO_API / && cs != "") { decl(cs, f, 1); cs = "" }
      if (C[k] ~ /^CORO_API / || cs != "") cs = cs (cs == "" ? "" : "\n") C[k]
    }
    if (cs != "") decl(cs, f, 1)
  }
  print ".fi" > f
  print ".SH DESCRIPTION" > f
  if (S_intro[s] != "") text(S_intro[s], f)
  for (e = S_first[s]; e <= S_last[s]; e++) {
    if (E_calls[e] != "") {
      cs = E_calls[e]
      gsub(/ /, "(), ", cs)
      print ".SS " q(cs "()") > f
    } else if (E_code[e] != "") {
      print ".SS " q(type_name(E_code[e])) > f
      print ".nf" > f
      codeblock(E_code[e], f)
      print ".fi" > f
      if (E_text[e] != "") print ".PP" > f
    }
    text(E_text[e], f)
  }
  print ".SH ERRORS" > f
  print "Each call returns a negative code on failure, a negated errno value (" \
        "\\fB\\-EINVAL\\fR) or a \\fBCORO_E\\fR* code; \\fBcoro_strerror\\fR() and " \
        "\\fBcoro_err_name\\fR() name them.  The codes each call's description names:" > f
  for (e = S_first[s]; e <= S_last[s]; e++) {
    if (E_calls[e] == "") continue
    n = split(E_calls[e], C, " ")
    # Its own codes, then those of what it refers to (references()).
    refl = references(E_text[e])
    first = union(codes(returned(E_text[e])), ref_codes(refl, s))
    how = ""
    ref = refl
    sub(/ .*$/, "", ref)
    if (first == "" && E_text[e] ~ /[Nn]ever fails|[Nn]o error code/) {
      how = E_text[e] ~ /[Nn]ever fails/ ? "NEVER_FAILS" : "NO_CODE"
    } else if (ref != "" && ref != "@") {
      how = "AS " ref
    } else if (ref == "@") {
      how = "FAMILY"
    }
    for (k = 1; k <= n; k++) {
      CODES[C[k]] = first
      print ".TP" > f
      print ".BR " C[k] " ()" > f
      cs = first
      gsub(/ /, ", ", cs)
      if (how == "NEVER_FAILS") print "None: it never fails." > f
      else if (how == "NO_CODE") print "None (see its description)." > f
      else if (how == "FAMILY") print esc(cs) " (with the errors of the family, above)" > f
      else if (how != "") print esc(cs) " (with those of \\fB" esc(ref) "\\fR())" > f
      else if (first != "") print esc(cs) > f
      else print "The description names none." > f
      print C[k] " " S_page[s] ".3 " (how == "" ? "OWN" : how) " " first > callsf
      if (C[k] != S_page[s]) print C[k] " " S_page[s] ".3" > links
    }
  }
  n = split(S_macros[s], C, " ")
  for (k = 1; k <= n; k++) print C[k] " " S_page[s] ".3" > links
  see_also(f, S_page[s])
  close(f)
}

# What an entry that is not a call defines, for its heading: a typedef's
# name, a macro's, an enum's first constant.
function type_name(code,    s, n, C, k) {
  n = split(code, C, "\n")
  for (k = n; k >= 1; k--)
    if (match(C[k], /^} [a-z_0-9]+;/)) return substr(C[k], 3, RLENGTH - 3)
  s = C[1]
  if (match(s, /^typedef .*[ *(]([a-z_0-9]+)[);]/)) {
    sub(/;.*$/, "", s)
    sub(/\).*$/, "", s)
    sub(/^.*[ *(]/, "", s)
    return s
  }
  if (match(s, /^#define [A-Za-z_0-9]+/)) return substr(s, 9, RLENGTH - 8)
  if (match(code, /[A-Z][A-Z_0-9]+ =/)) return substr(code, RSTART, RLENGTH - 2)
  if (match(s, /^struct [a-z_0-9]+/)) return substr(s, 1, RLENGTH)
  return trim(s)
}

# libcoro(7): the opening comment, the call-less sections, the pages.
function seven(    f, n, T, k, j, t, head, s, e, body, C) {
  f = out "/man7/libcoro.7"
  header(f, "libcoro", 7, "include/coro.h and include/coro/*.h")
  n = split(top, T, "\n")
  # "coro.h - libcoro, what it is." then paragraphs; "Title" over "-----" opens a section.
  head = T[1]
  sub(/^[^ ]+ - /, "", head)
  sub(/^libcoro, /, "", head)
  sub(/\.$/, "", head)
  print ".SH NAME" > f
  print "libcoro \\- " esc(head) > f
  print ".SH SYNOPSIS" > f
  print ".nf" > f
  print ".B #include <coro.h>" > f
  print ".PP" > f
  print ".B cc app.c $(pkg\\-config \\-\\-cflags \\-\\-libs coro)" > f
  print ".fi" > f
  print ".SH DESCRIPTION" > f
  body = ""
  for (k = 2; k <= n; k++) {
    if (k < n && T[k + 1] ~ /^-+$/ && T[k] != "") {
      text(body, f)
      body = ""
      print ".SH " toupper(T[k]) > f
      k++
      continue
    }
    body = body (body == "" && T[k] == "" ? "" : (body == "" ? "" : "\n")) T[k]
  }
  text(body, f)
  for (s = 1; s <= nsec; s++) {
    if (S_calls[s] != "") continue
    print ".SH " toupper(S_title[s]) > f
    if (S_intro[s] != "") text(S_intro[s], f)
    for (e = S_first[s]; e <= S_last[s]; e++) {
      if (E_code[e] == "") {
        print ".PP" > f
        text(E_text[e], f)
        continue
      }
      print ".SS " q(type_name(E_code[e])) > f
      print ".nf" > f
      codeblock(E_code[e], f)
      print ".fi" > f
      if (E_text[e] != "") {
        print ".PP" > f
        text(E_text[e], f)
      }
    }
  }
  print ".SH THE CALLS" > f
  print "One page per family of calls, as the header groups them:" > f
  for (s = 1; s <= nsec; s++) {
    if (S_calls[s] == "") continue
    print ".TP" > f
    print ".BR " S_page[s] " (3)" > f
    print esc(S_title[s]) > f
  }
  see_also(f, "")
  close(f)
}
