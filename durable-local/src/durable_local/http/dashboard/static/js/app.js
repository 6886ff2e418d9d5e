// The dashboard's router: #/instances, #/instance/<id>, #/functions.

import { FunctionsView } from "./functions.js";
import { InstanceView } from "./instance.js";
import { InstancesView } from "./list.js";

let current = null;

function route() {
  if (current) current.destroy();
  const root = document.getElementById("view");
  const hash = location.hash || "#/instances";
  const [path, search] = hash.slice(1).split("?");
  const params = new URLSearchParams(search || "");
  let section = "instances";
  if (path.startsWith("/instance/")) {
    current = new InstanceView(root, decodeURIComponent(path.slice("/instance/".length)));
  } else if (path === "/functions") {
    section = "functions";
    current = new FunctionsView(root);
  } else {
    current = new InstancesView(root, params);
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.dataset.nav === section);
  }
}

window.addEventListener("hashchange", route);
route();
