// Every string the console shows, in Chinese and English; the choice is kept in localStorage.

export const STRINGS = {
  zh: {
    title: "citu 问数控制台",
    language: "语言",
    adminKey: "管理员密钥",
    adminKeyHint: "设置了 CITU_ADMIN_API_KEY 时填写（仅保存在本标签页）",
    tabAsk: "提问",
    tabConversations: "对话",
    tabTraining: "训练数据",
    tabPipeline: "数据管道",
    tabHealth: "健康状态",
    question: "问题",
    questionPlaceholder: "例如：收入最高的前三个服务区是哪些？",
    userId: "用户ID",
    ask: "提问",
    asking: "处理中…",
    progress: "进度",
    answer: "回答",
    summary: "摘要",
    sql: "SQL",
    result: "查询结果",
    chart: "图表",
    noChart: "无图表",
    noRows: "无数据",
    rowsShown: "共 {total} 行",
    truncated: "图表只显示前 {shown} 行（共 {rows} 行）",
    page: "第 {page} / {pages} 页",
    prev: "上一页",
    next: "下一页",
    thumbUp: "✓ 有用",
    thumbDown: "✗ 没用",
    continueConversation: "继续上一对话",
    streamEnded: "回答中断，请重试",
    feedbackSaved: "已记录反馈（编号 {id}）",
    error: "出错了：{text}",
    load: "加载",
    conversations: "对话列表",
    messages: "消息",
    noConversations: "没有对话",
    search: "搜索",
    keyword: "关键词",
    type: "类型",
    all: "全部",
    add: "添加",
    delete: "删除",
    confirmDelete: "确定删除这条训练数据吗？",
    upload: "上传文件",
    fileType: "文件类型",
    content: "内容",
    added: "已添加",
    deleted: "已删除",
    uploaded: "已上传：{text}",
    total: "共 {total} 条",
    taskName: "任务名称",
    businessContext: "业务背景",
    tables: "表名（逗号分隔）",
    createAndRun: "创建并执行",
    listTables: "列出业务库的表",
    tasks: "任务列表",
    refresh: "刷新",
    steps: "步骤",
    logs: "日志",
    status: "状态",
    healthy: "正常",
    down: "异常",
    component: "组件",
    checkedAt: "检查时间",
    unauthorized: "需要管理员密钥",
  },
  en: {
    title: "citu console",
    language: "Language",
    adminKey: "Admin key",
    adminKeyHint: "Needed when CITU_ADMIN_API_KEY is set (kept in this tab only)",
    tabAsk: "Ask",
    tabConversations: "Conversations",
    tabTraining: "Training data",
    tabPipeline: "Pipeline",
    tabHealth: "Health",
    question: "Question",
    questionPlaceholder: "e.g. Which three service areas earn the most?",
    userId: "User id",
    ask: "Ask",
    asking: "Working…",
    progress: "Progress",
    answer: "Answer",
    summary: "Summary",
    sql: "SQL",
    result: "Result",
    chart: "Chart",
    noChart: "No chart",
    noRows: "No rows",
    rowsShown: "{total} rows",
    truncated: "The chart shows the first {shown} of {rows} rows",
    page: "Page {page} of {pages}",
    prev: "Previous",
    next: "Next",
    thumbUp: "✓ Helpful",
    thumbDown: "✗ Not helpful",
    continueConversation: "Continue the last conversation",
    streamEnded: "The answer stopped before it was complete; please try again",
    feedbackSaved: "Feedback recorded (id {id})",
    error: "Error: {text}",
    load: "Load",
    conversations: "Conversations",
    messages: "Messages",
    noConversations: "No conversations",
    search: "Search",
    keyword: "Keyword",
    type: "Type",
    all: "All",
    add: "Add",
    delete: "Delete",
    confirmDelete: "Delete this training item?",
    upload: "Upload file",
    fileType: "File type",
    content: "Content",
    added: "Added",
    deleted: "Deleted",
    uploaded: "Uploaded: {text}",
    total: "{total} items",
    taskName: "Task name",
    businessContext: "Business context",
    tables: "Tables (comma separated)",
    createAndRun: "Create and run",
    listTables: "List the business tables",
    tasks: "Tasks",
    refresh: "Refresh",
    steps: "Steps",
    logs: "Logs",
    status: "Status",
    healthy: "up",
    down: "down",
    component: "Component",
    checkedAt: "Checked at",
    unauthorized: "The admin key is needed",
  },
};

const STORAGE_KEY = "citu.lang";

export function currentLang() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved && STRINGS[saved]) return saved;
  return navigator.language && navigator.language.startsWith("zh") ? "zh" : "en";
}

export function setLang(lang) {
  localStorage.setItem(STORAGE_KEY, STRINGS[lang] ? lang : "en");
  applyStrings(document);
}

// The string `key` in the current language, `{name}` placeholders filled from `vars`.
export function t(key, vars = {}) {
  const table = STRINGS[currentLang()];
  const text = table[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// Fills elements marked data-i18n (text), data-i18n-placeholder and data-i18n-title.
export function applyStrings(root) {
  document.documentElement.lang = currentLang() === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  document.title = t("title");
}
