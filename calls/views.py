from django.shortcuts import render


def episode_list(request):
    return render(request, "calls/episode_list.html")
