// The gateway's operational events -> a Microsoft Teams message with an Adaptive Card, as
// a Workflows "When a Teams webhook request is received" flow (or an incoming webhook)
// takes it (README.md in this directory). Subscribe with sources = ["gateway"].
// Strings are joined with +: written into the TOML file, a template literal placeholder
// of one name would be read as an environment variable.
function handler(request) {
  const event = request.body;
  const d = event.data || {};
  const who = d.subscriber ? d.subscriber.name : d.source;
  const titles = {
    "subscriber.disabled": "Subscriber " + who + " was disabled",
    "subscriber.circuit_opened": "Subscriber " + who + " is failing: circuit opened",
    "subscriber.circuit_closed": "Subscriber " + who + " recovered: circuit closed",
    "delivery.dead": "A delivery to " + who + " was given up",
    "source.signature_failures_spiking": "Source " + who + ": signature failures spiking",
    "source.signature_failures_recovered": "Source " + who + ": signature failures back to normal",
    "backlog.growing": "Subscriber " + who + ": backlog growing",
    "backlog.recovered": "Subscriber " + who + ": backlog back to normal",
  };
  const title = titles[event.type] || event.type + ": " + who;
  const facts = [];
  if (d.reason) facts.push({ title: "Reason", value: d.reason });
  if (d.failing_since) facts.push({ title: "Failing since", value: d.failing_since });
  if (d.event_type) facts.push({ title: "Event", value: d.source + " " + d.event_type });
  if (d.attempts) facts.push({ title: "Attempts", value: String(d.attempts) });
  if (d.failures !== undefined) {
    facts.push({ title: "Failures", value: d.failures + " in " + d.window_seconds + " s" });
  }
  if (d.backlog !== undefined) facts.push({ title: "Waiting", value: d.backlog + " deliveries" });
  facts.push({ title: "At", value: event.timestamp });
  const links = d.links || {};
  const url = links.subscriber || links.event || links.sources;
  const card = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: "1.4",
    body: [
      { type: "TextBlock", text: title, weight: "Bolder", size: "Medium", wrap: true },
      { type: "FactSet", facts },
    ],
    actions: url ? [{ type: "Action.OpenUrl", title: "Open in the console", url }] : [],
  };
  return {
    body: {
      type: "message",
      attachments: [
        { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
      ],
    },
  };
}
