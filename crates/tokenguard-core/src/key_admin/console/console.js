// The key console: a bearer token held in memory only, and the JSON API
// called with it. Everything shown is set as text, never as HTML.
"use strict";

(() => {
  const api = new URL("../keys", document.baseURI);
  let token = null;
  let next = null;

  const $ = (id) => document.getElementById(id);

  function status(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error", Boolean(isError));
  }

  async function call(method, url, body) {
    const init = { method, headers: { Authorization: "Bearer " + token }, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const answer = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const reason = answer && answer.error_description ? answer.error_description : response.statusText;
      throw new Error(response.status + ": " + reason);
    }
    return answer;
  }

  function names(text) {
    return text.split(/\s+/).filter((name) => name.length > 0);
  }

  function state(key) {
    const now = Date.now() / 1000;
    if (key.revoked_at !== null && key.revoked_at <= now) return "revoked";
    if (key.revoked_at !== null) return "retiring";
    if (key.expires_at !== null && key.expires_at <= now) return "expired";
    return "active";
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function button(parent, label, action) {
    const element = document.createElement("button");
    element.type = "button";
    element.textContent = label;
    element.addEventListener("click", action);
    parent.appendChild(element);
  }

  function row(key) {
    const tr = document.createElement("tr");
    tr.dataset.id = key.id;
    const keyState = state(key);
    tr.className = keyState;
    [key.id, key.subject, key.scopes.join(" "), key.roles.join(" "), key.name || "", keyState, key.replaces || ""]
      .forEach((text) => cell(tr, text));
    const actions = cell(tr, "");
    if (keyState !== "revoked") {
      button(actions, "Rotate", () => rotate(key.id));
      button(actions, "Revoke", () => revoke(key.id));
    }
    return tr;
  }

  async function load(more) {
    const url = new URL(api);
    url.searchParams.set("limit", "100");
    if (more && next) url.searchParams.set("cursor", next);
    const page = await call("GET", url);
    if (!more) $("keys").replaceChildren();
    page.keys.forEach((key) => $("keys").appendChild(row(key)));
    next = page.next;
    $("more").hidden = next === null;
  }

  function showKey(created) {
    $("new-key-value").textContent = created.key;
    $("new-key").hidden = false;
  }

  async function rotate(id) {
    try {
      showKey(await call("POST", new URL(api + "/" + encodeURIComponent(id) + "/rotate"), { grace_seconds: 0 }));
      status("Rotated " + id + ".");
      await load(false);
    } catch (error) {
      status(error.message, true);
    }
  }

  async function revoke(id) {
    try {
      await call("DELETE", new URL(api + "/" + encodeURIComponent(id)));
      status("Revoked " + id + ".");
      await load(false);
    } catch (error) {
      status(error.message, true);
    }
  }

  $("connect-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    try {
      await load(false);
      $("create").hidden = false;
      $("list").hidden = false;
      status("Connected.");
    } catch (error) {
      token = null;
      status(error.message, true);
    }
  });

  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { scopes: names($("scopes").value), roles: names($("roles").value) };
    if ($("subject").value.trim()) body.subject = $("subject").value.trim();
    if ($("name").value.trim()) body.name = $("name").value.trim();
    if ($("expires").value) body.expires_in = Number($("expires").value) * 86400;
    try {
      const created = await call("POST", api, body);
      showKey(created);
      status("Created " + created.id + ".");
      $("create-form").reset();
      await load(false);
    } catch (error) {
      status(error.message, true);
    }
  });

  $("copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("new-key-value").textContent);
      status("Copied.");
    } catch (error) {
      status("Copy failed: select the key and copy it by hand.", true);
    }
  });

  $("dismiss").addEventListener("click", () => {
    $("new-key-value").textContent = "";
    $("new-key").hidden = true;
  });

  $("more").addEventListener("click", () => load(true).catch((error) => status(error.message, true)));
})();
