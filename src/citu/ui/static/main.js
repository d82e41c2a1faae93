// Starts the console: tabs, the language switch, the admin key field, and each tab's wiring.
import { adminKey, setAdminKey } from "./api.js";
import { setUpAsk } from "./ask.js";
import { setUpConversations } from "./conversations.js";
import { loadHealth } from "./health.js";
import { applyStrings, currentLang, setLang } from "./i18n.js";
import { setUpPipeline } from "./pipeline.js";
import { setUpTraining } from "./training.js";

function setUpTabs(onShow) {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const show = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    onShow(tab.getAttribute("aria-controls"));
  };
  tabs.forEach((tab) => tab.addEventListener("click", () => show(tab)));
}

function setUpSettings() {
  const lang = document.getElementById("lang");
  lang.value = currentLang();
  lang.addEventListener("change", () => setLang(lang.value));
  document.getElementById("settings-form").addEventListener("submit", (event) => event.preventDefault());
  const key = document.getElementById("admin-key");
  key.value = adminKey();
  key.addEventListener("change", () => setAdminKey(key.value.trim()));
}

function start() {
  applyStrings(document);
  setUpSettings();
  setUpAsk(document.getElementById("panel-ask"));
  setUpConversations(document.getElementById("panel-conversations"));
  setUpTraining(document.getElementById("panel-training"));
  const loadTasks = setUpPipeline(document.getElementById("panel-pipeline"));
  setUpTabs((panel) => {
    if (panel === "panel-health") loadHealth(document.getElementById("panel-health"));
    if (panel === "panel-pipeline") loadTasks();
  });
  document.body.dataset.ready = "true";
}

start();
